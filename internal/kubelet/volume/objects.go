package volume

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// objectCache serves the ConfigMaps and Secrets that volumes project, from watches
// started on first use, so that re-syncing a pod's volumes costs no API call and a
// changed object wakes its pods at once (Kubernetes waits for a periodic sync).
type objectCache struct {
	ctx      context.Context // how long the watches live
	client   kubernetes.Interface
	onChange func(kind, ns, name string)

	once       sync.Once
	configMaps corelisters.ConfigMapLister
	secrets    corelisters.SecretLister
	synced     []cache.InformerSynced
}

func (o *objectCache) start() {
	o.once.Do(func() {
		f := informers.NewSharedInformerFactory(o.client, 0)
		cms, secrets := f.Core().V1().ConfigMaps(), f.Core().V1().Secrets()
		o.configMaps, o.secrets = cms.Lister(), secrets.Lister()
		o.synced = []cache.InformerSynced{cms.Informer().HasSynced, secrets.Informer().HasSynced}
		o.watch(cms.Informer(), "configmap")
		o.watch(secrets.Informer(), "secret")
		f.Start(o.ctx.Done())
	})
}

func (o *objectCache) watch(inf cache.SharedIndexInformer, kind string) {
	changed := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if m, ok := obj.(metav1.Object); ok && o.onChange != nil {
			o.onChange(kind, m.GetNamespace(), m.GetName())
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: changed, UpdateFunc: func(_, n any) { changed(n) }, DeleteFunc: changed,
	})
}

func (o *objectCache) ready() bool {
	for _, s := range o.synced {
		if !s() {
			return false
		}
	}
	return len(o.synced) > 0
}

// configMap returns the ConfigMap, or nil when it does not exist. Until the watch
// has synced it asks the API server.
func (o *objectCache) configMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	o.start()
	var cm *corev1.ConfigMap
	var err error
	if o.ready() {
		cm, err = o.configMaps.ConfigMaps(ns).Get(name)
	} else {
		cm, err = o.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return cm, err
}

// secret returns the Secret, or nil when it does not exist.
func (o *objectCache) secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	o.start()
	var s *corev1.Secret
	var err error
	if o.ready() {
		s, err = o.secrets.Secrets(ns).Get(name)
	} else {
		s, err = o.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return s, err
}
