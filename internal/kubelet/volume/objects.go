package volume

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// objectCache serves the ConfigMaps and Secrets that volumes project, from one watch
// per object (narrowed by metadata.name, as the kubelet's are: the node authorizer
// lets a node read only the objects its pods use), started on first use and stopped
// when no pod projects the object any more. Re-syncing a pod's volumes costs no API
// call, and a changed object wakes its pods at once.
type objectCache struct {
	ctx      context.Context // how long the watches live
	client   kubernetes.Interface
	onChange func(kind, ns, name string)

	mu      sync.Mutex
	watches map[objectKey]*objectWatch
}

type objectKey struct{ kind, ns, name string }

type objectWatch struct {
	store  cache.Store
	synced cache.InformerSynced
	stop   context.CancelFunc
}

// configMap returns the ConfigMap, or nil when it does not exist. Until its watch
// has synced it asks the API server.
func (o *objectCache) configMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	obj, err := o.get(ctx, objectKey{"configmap", ns, name}, func(c context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		return o.client.CoreV1().ConfigMaps(ns).List(c, opts)
	}, func(c context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		return o.client.CoreV1().ConfigMaps(ns).Watch(c, opts)
	}, func(c context.Context) (runtime.Object, error) {
		return o.client.CoreV1().ConfigMaps(ns).Get(c, name, metav1.GetOptions{})
	})
	cm, _ := obj.(*corev1.ConfigMap)
	return cm, err
}

// secret returns the Secret, or nil when it does not exist.
func (o *objectCache) secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	obj, err := o.get(ctx, objectKey{"secret", ns, name}, func(c context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		return o.client.CoreV1().Secrets(ns).List(c, opts)
	}, func(c context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		return o.client.CoreV1().Secrets(ns).Watch(c, opts)
	}, func(c context.Context) (runtime.Object, error) {
		return o.client.CoreV1().Secrets(ns).Get(c, name, metav1.GetOptions{})
	})
	s, _ := obj.(*corev1.Secret)
	return s, err
}

type (
	listFunc  func(context.Context, metav1.ListOptions) (runtime.Object, error)
	watchFunc func(context.Context, metav1.ListOptions) (watch.Interface, error)
	getFunc   func(context.Context) (runtime.Object, error)
)

// get reads the object from its watch, starting the watch on first use.
func (o *objectCache) get(ctx context.Context, k objectKey, list listFunc, watchFn watchFunc, get getFunc) (runtime.Object, error) {
	w := o.watch(k, list, watchFn)
	if !w.synced() {
		obj, err := get(ctx)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return obj, err
	}
	obj, ok, err := w.store.GetByKey(k.ns + "/" + k.name)
	if err != nil || !ok {
		return nil, err
	}
	return obj.(runtime.Object), nil
}

func (o *objectCache) watch(k objectKey, list listFunc, watchFn watchFunc) *objectWatch {
	o.mu.Lock()
	defer o.mu.Unlock()
	if w, ok := o.watches[k]; ok {
		return w
	}
	if o.watches == nil {
		o.watches = map[objectKey]*objectWatch{}
	}
	narrow := func(opts *metav1.ListOptions) {
		opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", k.name).String()
	}
	ctx, stop := context.WithCancel(o.ctx)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(c context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			narrow(&opts)
			return list(c, opts)
		},
		WatchFuncWithContext: func(c context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			narrow(&opts)
			return watchFn(c, opts)
		},
	}
	changed := func(any) {
		if o.onChange != nil {
			o.onChange(k.kind, k.ns, k.name)
		}
	}
	store, ctl := cache.NewInformerWithOptions(cache.InformerOptions{ListerWatcher: lw, Handler: cache.ResourceEventHandlerFuncs{
		AddFunc: changed, UpdateFunc: func(_, n any) { changed(n) }, DeleteFunc: changed,
	}})
	go ctl.RunWithContext(ctx)
	w := &objectWatch{store: store, synced: ctl.HasSynced, stop: stop}
	o.watches[k] = w
	return w
}

// keepOnly stops the watches of objects no pod projects any more.
func (o *objectCache) keepOnly(used map[objectKey]bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for k, w := range o.watches {
		if !used[k] {
			w.stop()
			delete(o.watches, k)
		}
	}
}
