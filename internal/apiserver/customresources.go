package apiserver

import (
	"context"
	"fmt"
	"slices"
	"sync"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"skiff/internal/apiextensions"
	"skiff/internal/resources"
)

// customEndpoints are the endpoints of established CustomResourceDefinitions,
// added and removed while the server runs.
type customEndpoints struct {
	mu    sync.RWMutex
	byGVR map[schema.GroupVersionResource]*endpoint
	// byCRD lists each CRD's endpoints.
	byCRD map[string]customSet
}

type customSet struct {
	// built says what the endpoints were built from: the CRD's generation and names.
	built     string
	crd       *apiextensionsv1.CustomResourceDefinition
	endpoints []*endpoint
}

func (c *customEndpoints) get(gvr schema.GroupVersionResource) *endpoint {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byGVR[gvr]
}

// storageEndpoint is the endpoint of a custom resource's storage version.
func (c *customEndpoints) storageEndpoint(gr schema.GroupResource) *endpoint {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for gvr, ep := range c.byGVR {
		if gvr.GroupResource() == gr && gvr.Version == ep.Storage.Version {
			return ep
		}
	}
	return nil
}

// infos lists the custom resources in a stable order (by CRD name, then as the
// CRD lists its versions).
func (c *customEndpoints) infos() []*resources.Info {
	c.mu.RLock()
	defer c.mu.RUnlock()
	names := make([]string, 0, len(c.byCRD))
	for n := range c.byCRD {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []*resources.Info
	for _, n := range names {
		for _, ep := range c.byCRD[n].endpoints {
			out = append(out, ep.Info)
		}
	}
	return out
}

// set replaces a CRD's endpoints (nil removes them).
func (c *customEndpoints) set(crd string, s customSet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ep := range c.byCRD[crd].endpoints {
		delete(c.byGVR, ep.GroupVersionResource)
	}
	if s.endpoints == nil {
		delete(c.byCRD, crd)
		return
	}
	c.byCRD[crd] = s
	for _, ep := range s.endpoints {
		c.byGVR[ep.GroupVersionResource] = ep
	}
}

func (c *customEndpoints) builtFrom(crd string) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s, ok := c.byCRD[crd]
	return s.built, ok
}

// allInfos is every served resource: the built-in table, then custom resources.
func (a *API) allInfos() []*resources.Info {
	return append(slices.Clip(a.infos), a.custom.infos()...)
}

// customEndpointsFor builds the endpoints of an established CRD's served versions,
// all sharing one store resource (objects are kept in the storage version). Each
// version's field managers record managed fields in that version, as Kubernetes does.
func (a *API) customEndpointsFor(ctx context.Context, versions []*apiextensions.Version) ([]*endpoint, error) {
	var out []*endpoint
	for _, v := range versions {
		st, err := a.store.RegisterUnstructured(ctx, v.Info.StorageResource())
		if err != nil {
			return nil, err
		}
		conv := unstructuredKinds{v.Convert}
		managers, err := newManagersWith(managedfields.NewDefaultCRDFieldManager, v.Types, v.Info, v.Info.GVK(), conv, conv, v.Info.Strategy)
		if err != nil {
			return nil, fmt.Errorf("field manager for %s: %w", v.Info.GVK(), err)
		}
		out = append(out, &endpoint{Info: v.Info, store: st, managers: managers, custom: v})
	}
	return out, nil
}

// unstructuredKinds creates and converts custom objects for the field manager,
// through the CRD's converter.
type unstructuredKinds struct{ conv *apiextensions.Converter }

func (unstructuredKinds) New(gvk schema.GroupVersionKind) (runtime.Object, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

func (k unstructuredKinds) Convert(in, out, _ interface{}) error {
	i, ok1 := in.(*unstructured.Unstructured)
	o, ok2 := out.(*unstructured.Unstructured)
	if !ok1 || !ok2 {
		return fmt.Errorf("cannot convert %T to %T", in, out)
	}
	converted, err := k.conv.Convert(i, o.GroupVersionKind().GroupVersion())
	if err != nil {
		return err
	}
	o.Object = converted.(*unstructured.Unstructured).DeepCopy().Object
	return nil
}

func (k unstructuredKinds) ConvertToVersion(in runtime.Object, gv runtime.GroupVersioner) (runtime.Object, error) {
	gvk := in.GetObjectKind().GroupVersionKind()
	target, ok := gv.KindForGroupVersionKinds([]schema.GroupVersionKind{gvk})
	if !ok {
		return nil, fmt.Errorf("%s cannot be converted to %v", gvk, gv)
	}
	out, err := k.conv.Convert(in, target.GroupVersion())
	if err != nil {
		return nil, err
	}
	if out == in {
		// Already in that version. The field manager changes only objects it
		// made itself, so the stored object it reads needs no copy.
		return in, nil
	}
	return out.DeepCopyObject(), nil
}

func (unstructuredKinds) ConvertFieldLabel(_ schema.GroupVersionKind, label, value string) (string, string, error) {
	return label, value, nil
}

// creatable refuses new custom objects while their CRD is being deleted, as
// Kubernetes does, so the CRD's cleanup ends.
func (ep *endpoint) creatable() error {
	if ep.custom == nil || !ep.custom.Terminating() {
		return nil
	}
	return apierrors.NewForbidden(ep.GroupResource(), "", fmt.Errorf("create not allowed while custom resource definition is terminating"))
}

// newObject returns an empty object of gvk: unstructured for custom resources.
func (ep *endpoint) newObject(gvk schema.GroupVersionKind) (runtime.Object, error) {
	if ep.custom != nil {
		return unstructuredKinds{ep.custom.Convert}.New(gvk)
	}
	return resources.Scheme.New(gvk)
}

// scaleOf reads the scale subresource: custom resources map it through the CRD's
// replicas paths.
func (ep *endpoint) scaleOf(obj runtime.Object) (*autoscalingv1.Scale, error) {
	if ep.custom == nil {
		return scaleOf(obj)
	}
	return ep.custom.ScaleOf(obj)
}

func (ep *endpoint) setReplicas(obj runtime.Object, n int32) error {
	if ep.custom == nil {
		setReplicas(obj, n)
		return nil
	}
	return ep.custom.SetReplicas(obj, n)
}

// unstructuredMeta reads a custom object's metadata.
func unstructuredMeta(u *unstructured.Unstructured) metav1.ObjectMeta {
	var m metav1.ObjectMeta
	if raw, ok := u.Object["metadata"].(map[string]interface{}); ok {
		_ = runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &m)
	}
	return m
}
