// Package limitrange is the LimitRanger admission plugin: it fills in the default
// requests and limits of a namespace's LimitRanges on new and resized pods, and
// refuses pods (new or resized in place) and claims outside their min, max and
// limit/request ratio, with Kubernetes' messages.
package limitrange

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/admission"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Lister returns the LimitRanges of a namespace.
type Lister func(namespace string) ([]*corev1.LimitRange, error)

// annotation records which defaults the plugin set, as Kubernetes does.
const annotation = "kubernetes.io/limit-ranger"

// Plugin is the LimitRanger admission plugin.
type Plugin struct {
	*admission.Handler
	list Lister
}

var (
	_ admission.MutationInterface   = (*Plugin)(nil)
	_ admission.ValidationInterface = (*Plugin)(nil)
)

// New returns the plugin over the given LimitRanges.
func New(list Lister) *Plugin {
	return &Plugin{Handler: admission.NewHandler(admission.Create, admission.Update), list: list}
}

// Admit sets the missing requests and limits of each new or resized pod's containers
// from the Container defaults.
func (p *Plugin) Admit(_ context.Context, at admission.Attributes, _ admission.ObjectInterfaces) error {
	pod, ok := at.GetObject().(*corev1.Pod)
	if !ok || !podWrite(at) {
		return nil
	}
	ranges, err := p.list(at.GetNamespace())
	if err != nil || len(ranges) == 0 {
		return err
	}
	var set []string
	for _, lr := range ranges {
		for _, item := range lr.Spec.Limits {
			if item.Type == corev1.LimitTypeContainer {
				set = append(set, applyDefaults(pod, item.DefaultRequest, item.Default)...)
			}
		}
	}
	if len(set) > 0 {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[annotation] = "LimitRanger plugin set: " + strings.Join(set, "; ")
	}
	return nil
}

// applyDefaults fills what a container leaves unset and says what it set.
func applyDefaults(pod *corev1.Pod, requests, limits corev1.ResourceList) []string {
	var set []string
	fill := func(c *corev1.Container) {
		req := fillMissing(&c.Resources.Requests, requests)
		lim := fillMissing(&c.Resources.Limits, limits)
		if len(req) > 0 {
			set = append(set, fmt.Sprintf("%s request for container %s", strings.Join(req, ", "), c.Name))
		}
		if len(lim) > 0 {
			set = append(set, fmt.Sprintf("%s limit for container %s", strings.Join(lim, ", "), c.Name))
		}
	}
	for i := range pod.Spec.InitContainers {
		fill(&pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		fill(&pod.Spec.Containers[i])
	}
	return set
}

func fillMissing(dst *corev1.ResourceList, defaults corev1.ResourceList) []string {
	var names []string
	for name, q := range defaults {
		if _, ok := (*dst)[name]; ok {
			continue
		}
		if *dst == nil {
			*dst = corev1.ResourceList{}
		}
		(*dst)[name] = q.DeepCopy()
		names = append(names, string(name))
	}
	slices.Sort(names)
	return names
}

// podWrite reports the pod writes LimitRanges apply to: a new pod, and a resize in
// place through pods/resize (the one way a pod's resources change), as in Kubernetes.
func podWrite(at admission.Attributes) bool {
	return (at.GetOperation() == admission.Create && at.GetSubresource() == "") ||
		(at.GetOperation() == admission.Update && at.GetSubresource() == "resize")
}

// Validate refuses a new or resized pod, or a new or resized claim, outside the
// namespace's ranges.
func (p *Plugin) Validate(_ context.Context, at admission.Attributes, _ admission.ObjectInterfaces) error {
	var check func(*corev1.LimitRangeItem) []error
	switch obj := at.GetObject().(type) {
	case *corev1.Pod:
		if !podWrite(at) {
			return nil
		}
		check = func(item *corev1.LimitRangeItem) []error { return checkPod(item, obj) }
	case *corev1.PersistentVolumeClaim:
		if at.GetSubresource() != "" {
			return nil
		}
		check = func(item *corev1.LimitRangeItem) []error { return checkClaim(item, obj) }
	default:
		return nil
	}
	ranges, err := p.list(at.GetNamespace())
	if err != nil {
		return err
	}
	var errs []error
	for _, lr := range ranges {
		for i := range lr.Spec.Limits {
			errs = append(errs, check(&lr.Spec.Limits[i])...)
		}
	}
	if len(errs) > 0 {
		return admission.NewForbidden(at, utilerrors.NewAggregate(errs))
	}
	return nil
}

func checkPod(item *corev1.LimitRangeItem, pod *corev1.Pod) []error {
	switch item.Type {
	case corev1.LimitTypeContainer:
		var errs []error
		for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
			errs = append(errs, checkBounds(item, c.Resources.Requests, c.Resources.Limits)...)
		}
		return errs
	case corev1.LimitTypePod:
		requests := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
		limits := resourcehelper.PodLimits(pod, resourcehelper.PodResourcesOptions{})
		return checkBounds(item, requests, limits)
	}
	return nil
}

// checkBounds applies min, max and maxLimitRequestRatio to one container or pod.
func checkBounds(item *corev1.LimitRangeItem, requests, limits corev1.ResourceList) []error {
	var errs []error
	kind := string(item.Type)
	for _, name := range sortedNames(item.Min) {
		errs = appendErr(errs, atLeast(kind, name, item.Min[name], requests, limits))
	}
	for _, name := range sortedNames(item.Max) {
		errs = appendErr(errs, atMost(kind, name, item.Max[name], requests, limits, true))
	}
	for _, name := range sortedNames(item.MaxLimitRequestRatio) {
		errs = appendErr(errs, ratio(kind, name, item.MaxLimitRequestRatio[name], requests, limits))
	}
	return errs
}

// checkClaim applies min and max to a claim's storage request; claims have no limits.
func checkClaim(item *corev1.LimitRangeItem, pvc *corev1.PersistentVolumeClaim) []error {
	if item.Type != corev1.LimitTypePersistentVolumeClaim {
		return nil
	}
	var errs []error
	requests := pvc.Spec.Resources.Requests
	for _, name := range sortedNames(item.Min) {
		errs = appendErr(errs, atLeast(string(item.Type), name, item.Min[name], requests, nil))
	}
	for _, name := range sortedNames(item.Max) {
		errs = appendErr(errs, atMost(string(item.Type), name, item.Max[name], requests, nil, false))
	}
	return errs
}

func appendErr(errs []error, err error) []error {
	if err != nil {
		errs = append(errs, err)
	}
	return errs
}

func sortedNames(l corev1.ResourceList) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(l))
	for n := range l {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func atLeast(kind string, name corev1.ResourceName, min resource.Quantity, requests, limits corev1.ResourceList) error {
	req, ok := requests[name]
	if !ok {
		return fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", name, kind, min.String())
	}
	if req.Cmp(min) < 0 {
		return fmt.Errorf("minimum %s usage per %s is %s, but request is %s", name, kind, min.String(), req.String())
	}
	if lim, ok := limits[name]; ok && lim.Cmp(min) < 0 {
		return fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", name, kind, min.String(), lim.String())
	}
	return nil
}

// atMost checks the limit (or, for claims, which have none, the request) against max.
func atMost(kind string, name corev1.ResourceName, max resource.Quantity, requests, limits corev1.ResourceList, hasLimits bool) error {
	if !hasLimits {
		req, ok := requests[name]
		if !ok {
			return fmt.Errorf("maximum %s usage per %s is %s.  No request is specified", name, kind, max.String())
		}
		if req.Cmp(max) > 0 {
			return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, kind, max.String(), req.String())
		}
		return nil
	}
	lim, ok := limits[name]
	if !ok {
		return fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", name, kind, max.String())
	}
	if lim.Cmp(max) > 0 {
		return fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", name, kind, max.String(), lim.String())
	}
	if req, ok := requests[name]; ok && req.Cmp(max) > 0 {
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, kind, max.String(), req.String())
	}
	return nil
}

func ratio(kind string, name corev1.ResourceName, max resource.Quantity, requests, limits corev1.ResourceList) error {
	req, reqOK := requests[name]
	lim, limOK := limits[name]
	if !limOK || lim.IsZero() {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, kind, max.String())
	}
	if !reqOK || req.IsZero() {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, kind, max.String())
	}
	observed := float64(lim.MilliValue()) / float64(req.MilliValue())
	if observed > float64(max.MilliValue())/1000 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, kind, max.String(), observed)
	}
	return nil
}
