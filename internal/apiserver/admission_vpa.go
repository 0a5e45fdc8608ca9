package apiserver

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	admissionapi "k8s.io/apiserver/pkg/admission"

	"skiff/internal/resources"
	"skiff/internal/store"
	"skiff/internal/vpa"
)

// vpaUpdatesAnnotation says which VPA set a new pod's resources, as upstream's
// admission controller records it.
const vpaUpdatesAnnotation = "vpaUpdates"

// vpaAdmission gives a new pod the requests its VerticalPodAutoscaler recommends,
// in every update mode but Off (Initial acts only here; the others also update
// running pods through the VPA updater).
type vpaAdmission struct{ api *API }

func (vpaAdmission) Handles(op admissionapi.Operation) bool { return op == admissionapi.Create }

func (p vpaAdmission) Admit(ctx context.Context, at admissionapi.Attributes, _ admissionapi.ObjectInterfaces) error {
	if at.GetResource().GroupResource() != corev1.Resource("pods") || at.GetSubresource() != "" {
		return nil
	}
	pod, ok := at.GetObject().(*corev1.Pod)
	if !ok {
		return nil
	}
	v := p.matching(ctx, pod)
	if v == nil || v.Mode() == vpa.UpdateModeOff || v.Status.Recommendation == nil {
		return nil
	}
	before := pod.Spec.DeepCopy()
	if !vpa.ApplyToPod(&pod.Spec, v.Status.Recommendation, v.Spec.ResourcePolicy) {
		return nil
	}
	// The class was computed before admission; requests just changed.
	pod.Status.QOSClass = resources.QOSClass(pod)
	var changed []string
	for i := range pod.Spec.Containers {
		var what []string
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			n, o := pod.Spec.Containers[i].Resources.Requests[r], before.Containers[i].Resources.Requests[r]
			if n.Cmp(o) != 0 {
				what = append(what, string(r)+" request")
			}
		}
		if len(what) > 0 {
			changed = append(changed, fmt.Sprintf("container %d: %s", i, strings.Join(what, ", ")))
		}
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[vpaUpdatesAnnotation] = fmt.Sprintf("Pod resources updated by %s: %s", v.Name, strings.Join(changed, "; "))
	return nil
}

// matching finds the VPA whose target's selector selects pod; with several, the
// oldest-named one wins, so the choice is stable.
func (p vpaAdmission) matching(ctx context.Context, pod *corev1.Pod) *vpa.VerticalPodAutoscaler {
	ep := p.api.custom.get(vpa.Resource)
	if ep == nil || ep.store == nil {
		return nil
	}
	objs, _, _, err := ep.store.List(ctx, store.ListOptions{Namespace: pod.Namespace, ResourceVersion: "0"})
	if err != nil {
		return nil
	}
	var found []*vpa.VerticalPodAutoscaler
	for _, o := range objs {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		v, err := vpa.FromUnstructured[vpa.VerticalPodAutoscaler](u)
		if err != nil || v.Spec.TargetRef == nil {
			continue
		}
		if sel := p.targetSelector(ctx, pod.Namespace, v); sel != nil && sel.Matches(labels.Set(pod.Labels)) {
			found = append(found, v)
		}
	}
	if len(found) == 0 {
		return nil
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Name < found[j].Name })
	return found[0]
}

// targetSelector reads the selector of a VPA's target from the store, as the
// target's scale subresource has it: any built-in kind with one (Deployment,
// ReplicaSet, StatefulSet, ...) or a custom resource whose CRD declares one.
func (p vpaAdmission) targetSelector(ctx context.Context, ns string, v *vpa.VerticalPodAutoscaler) labels.Selector {
	ref := v.Spec.TargetRef
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil
	}
	ep := p.api.scalable(gv, ref.Kind)
	if ep == nil {
		return nil
	}
	obj, err := ep.store.Get(ctx, ns, ref.Name)
	if err != nil {
		return nil
	}
	sc, err := ep.scaleOf(obj)
	if err != nil || sc.Status.Selector == "" {
		return nil
	}
	sel, err := labels.Parse(sc.Status.Selector)
	if err != nil {
		return nil
	}
	return sel
}

// scalable finds the stored endpoint serving kind in gv's group with a scale
// subresource, preferring gv's version: among built-ins first, then custom
// resources.
func (a *API) scalable(gv schema.GroupVersion, kind string) *endpoint {
	var found *endpoint
	consider := func(gvr schema.GroupVersionResource, ep *endpoint) {
		if gvr.Group != gv.Group || ep.StorageGVK().Kind != kind || ep.store == nil || !ep.HasSubresource("scale") {
			return
		}
		if found == nil || gvr.Version == gv.Version {
			found = ep
		}
	}
	for gvr, ep := range a.endpoints {
		consider(gvr, ep)
	}
	if found != nil {
		return found
	}
	a.custom.mu.RLock()
	defer a.custom.mu.RUnlock()
	for gvr, ep := range a.custom.byGVR {
		consider(gvr, ep)
	}
	return found
}
