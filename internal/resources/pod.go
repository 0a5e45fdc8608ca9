package resources

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Priorities of the two classes every cluster has; pods naming them need no lookup.
const (
	podSystemClusterCritical int32 = 2000000000
	podSystemNodeCritical    int32 = 2000001000
	// podDefaultTolerationSeconds is how long a pod stays bound to a node that stopped
	// reporting before the node lifecycle controller evicts it.
	podDefaultTolerationSeconds int64 = 300
	podMirrorAnnotation               = "kubernetes.io/config.mirror"
	podUpdatableFields                = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`," +
		"`spec.tolerations` (only additions to existing tolerations)," +
		"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)

func (podStrategy) Default(obj runtime.Object) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	defaultPodSpec(&pod.Spec)
	s := &pod.Spec
	if s.EnableServiceLinks == nil {
		s.EnableServiceLinks = podPtr(true)
	}
	for i := range s.InitContainers {
		c := &s.InitContainers[i]
		defaultPodRequests(c)
		defaultPodHostPorts(c, s.HostNetwork)
	}
	for i := range s.Containers {
		c := &s.Containers[i]
		defaultPodRequests(c)
		defaultPodHostPorts(c, s.HostNetwork)
	}
}

// defaultPodRequests: a limit alone means "this much, exactly", so the scheduler
// should reserve it. Templates are left alone so that LimitRanges still apply per pod.
func defaultPodRequests(c *corev1.Container) {
	for name, lim := range c.Resources.Limits {
		if _, ok := c.Resources.Requests[name]; ok {
			continue
		}
		if c.Resources.Requests == nil {
			c.Resources.Requests = corev1.ResourceList{}
		}
		c.Resources.Requests[name] = lim.DeepCopy()
	}
}

func defaultPodHostPorts(c *corev1.Container, hostNetwork bool) {
	if !hostNetwork {
		return
	}
	for i := range c.Ports {
		if c.Ports[i].HostPort == 0 {
			c.Ports[i].HostPort = c.Ports[i].ContainerPort
		}
	}
}

// PrepareForCreate applies what Kubernetes' admission plugins add to every new pod
// (service account, priority, default tolerations) and sets the initial status. These
// happen on create only, never on update, which is why they are not in Default.
func (podStrategy) PrepareForCreate(obj runtime.Object) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s := &pod.Spec
	if _, mirror := pod.Annotations[podMirrorAnnotation]; !mirror && s.ServiceAccountName == "" {
		s.ServiceAccountName = "default"
	}
	s.DeprecatedServiceAccount = s.ServiceAccountName
	switch s.PriorityClassName {
	case "":
		s.Priority = podPtr(int32(0))
	case "system-cluster-critical":
		s.Priority = podPtr(podSystemClusterCritical)
	case "system-node-critical":
		s.Priority = podPtr(podSystemNodeCritical)
	}
	// Other class names need the PriorityClass object; the API server resolves those.
	if s.PreemptionPolicy == nil {
		s.PreemptionPolicy = podPtr(corev1.PreemptLowerPriority)
	}
	s.Tolerations = podDefaultTolerations(s.Tolerations)
	// Negative grace periods were once accepted; they now mean "as fast as possible".
	if g := s.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		s.TerminationGracePeriodSeconds = podPtr(int64(1))
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: QOSClass(pod)}
	if len(s.SchedulingGates) > 0 {
		pod.Status.Conditions = []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated,
			Message: "Scheduling is blocked due to non-empty scheduling gates",
		}}
	}
}

// podDefaultTolerations adds a 300s NoExecute toleration for the not-ready and
// unreachable taints unless the pod already tolerates them, so that a brief node
// outage does not evict every pod on it at once.
func podDefaultTolerations(ts []corev1.Toleration) []corev1.Toleration {
	tolerates := func(key string) bool {
		for _, t := range ts {
			if (t.Key == key || t.Key == "") && (t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
				return true
			}
		}
		return false
	}
	var add []corev1.Toleration
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		if !tolerates(key) {
			add = append(add, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists,
				Effect: corev1.TaintEffectNoExecute, TolerationSeconds: podPtr(podDefaultTolerationSeconds)})
		}
	}
	return append(ts, add...)
}

// PrepareForUpdate keeps the spec/status split; a kubelet that omits the QoS class in
// a status write keeps the one computed at create.
func (s podStrategy) PrepareForUpdate(obj, old runtime.Object, subresource string) {
	pod, ok1 := obj.(*corev1.Pod)
	oldPod, ok2 := old.(*corev1.Pod)
	if ok1 && ok2 && subresource == "ephemeralcontainers" {
		keepAllButEphemeralContainers(pod, oldPod)
		return
	}
	if ok1 && ok2 && subresource == "resize" {
		keepAllButResize(pod, oldPod)
		return
	}
	s.generic.PrepareForUpdate(obj, old, subresource)
	if !ok1 || !ok2 {
		return
	}
	// Ephemeral containers change only through their subresource.
	pod.Spec.EphemeralContainers = oldPod.Spec.EphemeralContainers
	if subresource == "" {
		// As Kubernetes' DefaultTolerationSeconds admission does on update too: a
		// client replacing the tolerations keeps the defaults it never sent, which
		// the only-additions rule for tolerations would otherwise refuse.
		pod.Spec.Tolerations = podDefaultTolerations(pod.Spec.Tolerations)
	}
	if pod.Status.QOSClass == "" {
		pod.Status.QOSClass = oldPod.Status.QOSClass
	}
}

func (podStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return field.ErrorList{field.InternalError(nil, fmt.Errorf("not a Pod: %T", obj))}
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	sp := field.NewPath("spec")
	errs = append(errs, validatePodSpec(&pod.Spec, sp)...)
	// Templates may carry a blank image for a controller to fill in; a pod may not.
	for _, list := range []struct {
		name string
		cs   []corev1.Container
	}{{"initContainers", pod.Spec.InitContainers}, {"containers", pod.Spec.Containers}} {
		for i, c := range list.cs {
			if c.Image != "" && strings.TrimSpace(c.Image) != c.Image {
				errs = append(errs, field.Invalid(sp.Child(list.name).Index(i).Child("image"), c.Image, "must not have leading or trailing whitespace"))
			}
		}
	}
	if oldPod, ok := old.(*corev1.Pod); ok {
		errs = append(errs, validatePodUpdate(pod, oldPod)...)
		errs = append(errs, validateEphemeralContainersUpdate(pod, oldPod)...)
	}
	return errs
}

// validatePodUpdate enforces that a running pod is, apart from a few fields, immutable:
// the kubelet has already acted on the rest.
func validatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	if n, o := pod.Spec.ActiveDeadlineSeconds, old.Spec.ActiveDeadlineSeconds; n != nil && o != nil && *n > *o {
		errs = append(errs, field.Invalid(sp.Child("activeDeadlineSeconds"), *n, "must be less than or equal to previous value"))
	} else if n == nil && o != nil {
		errs = append(errs, field.Invalid(sp.Child("activeDeadlineSeconds"), n, "must not update from a positive integer to nil value"))
	}
	errs = append(errs, validatePodTolerationUpdate(pod.Spec.Tolerations, old.Spec.Tolerations, sp.Child("tolerations"))...)
	oldGates := map[string]bool{}
	for _, g := range old.Spec.SchedulingGates {
		oldGates[g.Name] = true
	}
	gatesRemovedOnly := true
	for _, g := range pod.Spec.SchedulingGates {
		if !oldGates[g.Name] {
			gatesRemovedOnly = false
			errs = append(errs, field.Forbidden(sp.Child("schedulingGates"), fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}

	// Put the fields that may change back to their old values; whatever still differs
	// was changed and may not be.
	m := pod.Spec.DeepCopy()
	podKeepImages(m.Containers, old.Spec.Containers)
	podKeepImages(m.InitContainers, old.Spec.InitContainers)
	m.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	m.Tolerations = old.Spec.Tolerations
	m.EphemeralContainers = old.Spec.EphemeralContainers
	if o, n := old.Spec.TerminationGracePeriodSeconds, m.TerminationGracePeriodSeconds; o != nil && *o < 0 && n != nil && *n == 1 {
		m.TerminationGracePeriodSeconds = o
	}
	if gatesRemovedOnly {
		m.SchedulingGates = old.Spec.SchedulingGates
	}
	if !equality.Semantic.DeepEqual(*m, old.Spec) {
		diff := cmp.Diff(old.Spec, *m, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 }))
		errs = append(errs, field.Forbidden(sp, fmt.Sprintf("pod updates may not change fields other than %s\n%v", podUpdatableFields, diff)))
	}
	if old.Status.QOSClass != "" && pod.Status.QOSClass != old.Status.QOSClass {
		errs = append(errs, field.Invalid(field.NewPath("status", "qosClass"), pod.Status.QOSClass, apivalidation.FieldImmutableErrorMsg))
	}
	return errs
}

func podKeepImages(cs, old []corev1.Container) {
	if len(cs) != len(old) {
		return
	}
	for i := range cs {
		cs[i].Image = old[i].Image
	}
}

// validatePodTolerationUpdate allows tolerations to be added, and their
// tolerationSeconds to change, but none to be removed or otherwise altered: the
// scheduler placed the pod relying on them.
func validatePodTolerationUpdate(ts, old []corev1.Toleration, p *field.Path) field.ErrorList {
	for _, o := range old {
		found := false
		for _, t := range ts {
			t.TolerationSeconds = o.TolerationSeconds
			if reflect.DeepEqual(o, t) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(p, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return nil
}

// QOSClass computes a pod's quality-of-service class from the CPU and memory its
// containers (or the pod as a whole, when pod-level resources are set) request and
// are limited to:
//   - BestEffort: nothing requested or limited;
//   - Guaranteed: every container limits both CPU and memory, and requests equal limits;
//   - Burstable: anything else.
//
// Ephemeral containers do not count: they get no resources of their own.
func QOSClass(pod *corev1.Pod) corev1.PodQOSClass {
	tracked := func(n corev1.ResourceName) bool { return n == corev1.ResourceCPU || n == corev1.ResourceMemory }
	var reqs []corev1.ResourceRequirements
	if r := pod.Spec.Resources; r != nil && (podHasTracked(r.Requests, tracked) || podHasTracked(r.Limits, tracked)) {
		reqs = []corev1.ResourceRequirements{*r}
	} else {
		for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
			reqs = append(reqs, c.Resources)
		}
	}
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed := true
	add := func(sum corev1.ResourceList, n corev1.ResourceName, q resource.Quantity) {
		v := sum[n]
		v.Add(q)
		sum[n] = v
	}
	for _, r := range reqs {
		for n, q := range r.Requests {
			if tracked(n) && q.Sign() > 0 {
				add(requests, n, q)
			}
		}
		limited := 0
		for n, q := range r.Limits {
			if tracked(n) && q.Sign() > 0 {
				add(limits, n, q)
				limited++
			}
		}
		if limited < 2 {
			guaranteed = false
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	for n, req := range requests {
		if lim, ok := limits[n]; !ok || lim.Cmp(req) != 0 {
			guaranteed = false
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func podHasTracked(l corev1.ResourceList, tracked func(corev1.ResourceName) bool) bool {
	for n := range l {
		if tracked(n) {
			return true
		}
	}
	return false
}

// Fields are the pod fields kubectl and controllers select on, e.g.
// --field-selector spec.nodeName=node1,status.phase=Running.
func (podStrategy) Fields(obj runtime.Object) fields.Set {
	set := metaFields(obj)
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return set
	}
	podIP := ""
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP
	} else {
		podIP = pod.Status.PodIP
	}
	set["spec.nodeName"] = pod.Spec.NodeName
	set["spec.restartPolicy"] = string(pod.Spec.RestartPolicy)
	set["spec.schedulerName"] = pod.Spec.SchedulerName
	set["spec.serviceAccountName"] = pod.Spec.ServiceAccountName
	set["spec.hostNetwork"] = strconv.FormatBool(pod.Spec.HostNetwork)
	set["status.phase"] = string(pod.Status.Phase)
	set["status.podIP"] = podIP
	set["status.nominatedNodeName"] = pod.Status.NominatedNodeName
	return set
}

// Errors BindPod returns; the API server answers both with 409 Conflict.
var (
	ErrPodAlreadyBound = errors.New("pod is already assigned to a node")
	ErrPodTerminating  = errors.New("pod is being deleted, cannot be assigned to a host")
)

// BindPod applies a Binding (POST pods/<name>/binding) to pod: the only way spec.nodeName
// is set after create. It refuses pods that are bound already or being deleted, copies
// the binding's annotations, and marks the pod scheduled. The caller validates metadata
// and writes the pod; the spec immutability rules of Validate do not apply here.
func BindPod(pod *corev1.Pod, b *corev1.Binding, now metav1.Time) error {
	if b.Target.Name == "" {
		return field.ErrorList{field.Required(field.NewPath("target", "name"), "")}.ToAggregate()
	}
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		return field.ErrorList{field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node", ""})}.ToAggregate()
	}
	if pod.DeletionTimestamp != nil {
		return fmt.Errorf("pod %s: %w", pod.Name, ErrPodTerminating)
	}
	if pod.Spec.NodeName != "" {
		return fmt.Errorf("pod %s is already assigned to node %q: %w", pod.Name, pod.Spec.NodeName, ErrPodAlreadyBound)
	}
	for k, v := range b.Annotations {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[k] = v
	}
	pod.Spec.NodeName = b.Target.Name
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now}
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodScheduled {
			pod.Status.Conditions[i] = cond
			return nil
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, cond)
	return nil
}
