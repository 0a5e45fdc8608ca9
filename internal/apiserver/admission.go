package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff/internal/resources"
	"skiff/internal/store"
)

// admission holds the checks and side effects that need more than the object itself:
// namespace lifecycle, Service address allocation, pod priority.
type admission struct {
	api   *API
	alloc *resources.Allocators
}

var (
	namespacesGVR     = corev1.SchemeGroupVersion.WithResource("namespaces")
	servicesGVR       = corev1.SchemeGroupVersion.WithResource("services")
	priorityClassesGV = schedulingv1.SchemeGroupVersion.WithResource("priorityclasses")
)

func noRelease()         {}
func noReleaseOn(_ bool) {}

// create admits a new object. release undoes its allocations if the write fails;
// a dry run allocates no cluster IP.
func (ad *admission) create(ctx context.Context, ep *endpoint, obj runtime.Object, dryRun bool) (release func(), err error) {
	if ep.Namespaced {
		if err := ad.namespaceOpen(ctx, obj); err != nil {
			return noRelease, err
		}
	}
	switch o := obj.(type) {
	case *corev1.Service:
		undo, err := ad.allocate(ctx, o, nil, dryRun)
		if err != nil {
			return noRelease, err
		}
		return undo, nil
	case *corev1.Pod:
		ad.serviceAccount(ctx, o)
		if err := ad.podRuntimeClass(o); err != nil {
			return noRelease, err
		}
		return noRelease, ad.podPriority(ctx, o)
	case *corev1.PersistentVolumeClaim:
		return noRelease, ad.defaultStorageClass(ctx, o)
	}
	return noRelease, nil
}

// update admits a change. release(committed) frees what the losing side holds: the
// new allocations if the write failed, the old ones no longer used if it succeeded.
func (ad *admission) update(ctx context.Context, ep *endpoint, obj, old runtime.Object, dryRun bool) (func(bool), error) {
	if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok {
		return noReleaseOn, ad.claimResize(pvc, old.(*corev1.PersistentVolumeClaim))
	}
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return noReleaseOn, nil
	}
	oldSvc := old.(*corev1.Service)
	undo, err := ad.allocate(ctx, svc, oldSvc, dryRun)
	if err != nil {
		return noReleaseOn, err
	}
	return func(committed bool) {
		if !committed {
			undo()
			return
		}
		ad.releaseUnused(ctx, oldSvc, svc)
	}, nil
}

// deleted frees what a deleted object held.
func (ad *admission) deleted(ep *endpoint, obj runtime.Object) {
	if svc, ok := obj.(*corev1.Service); ok {
		ad.releaseUnused(context.Background(), svc, nil)
	}
}

func (ad *admission) namespaceOpen(ctx context.Context, obj runtime.Object) error {
	m, _ := meta.Accessor(obj)
	nsName := m.GetNamespace()
	nsEP := ad.api.endpoints[namespacesGVR]
	cached, ok := nsEP.store.Peek("", nsName)
	if !ok {
		var err error
		if cached, err = nsEP.store.Get(ctx, "", nsName); err != nil {
			return err
		}
	}
	ns := cached.(*corev1.Namespace)
	if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		msg := fmt.Sprintf("unable to create new content in namespace %s because it is being terminated", nsName)
		err := apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, nsName, errors.New(msg))
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
			Type: corev1.NamespaceTerminatingCause, Message: msg, Field: "metadata.namespace"})
		return err
	}
	return nil
}

// podPriority resolves priorityClassName into spec.priority, as the Priority admission
// plugin does, using the global default class when none is named.
func (ad *admission) podPriority(ctx context.Context, pod *corev1.Pod) error {
	pcs := ad.api.endpoints[priorityClassesGV]
	name := pod.Spec.PriorityClassName
	if name == "" {
		objs, _, _, err := pcs.store.List(ctx, store.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return err
		}
		for _, o := range objs {
			if pc := o.(*schedulingv1.PriorityClass); pc.GlobalDefault {
				pod.Spec.PriorityClassName, pod.Spec.Priority, pod.Spec.PreemptionPolicy = pc.Name, &pc.Value, pc.PreemptionPolicy
				return nil
			}
		}
		zero := int32(0)
		if pod.Spec.Priority == nil {
			pod.Spec.Priority = &zero
		}
		return nil
	}
	o, ok := pcs.store.Peek("", name)
	if !ok {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, pod.Name, fmt.Errorf("no PriorityClass with name %s was found", name))
	}
	pc := o.(*schedulingv1.PriorityClass)
	pod.Spec.Priority = &pc.Value
	if pod.Spec.PreemptionPolicy == nil {
		pod.Spec.PreemptionPolicy = pc.PreemptionPolicy
	}
	return nil
}

// allocate gives a Service its cluster IP and node ports, keeping those of old.
func (ad *admission) allocate(ctx context.Context, svc, old *corev1.Service, dryRun bool) (undo func(), err error) {
	var ips []netip.Addr
	var ports []int
	ref := resources.ServiceRef{Namespace: svc.Namespace, Name: svc.Name}
	undo = func() {
		for _, ip := range ips {
			ad.alloc.ClusterIPs.Release(ctx, ip, ref)
		}
		for _, p := range ports {
			ad.alloc.NodePorts.Release(p)
		}
	}
	fail := func(path *field.Path, value any, err error) (func(), error) {
		undo()
		return noRelease, apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, svc.Name, field.ErrorList{field.Invalid(path, value, err.Error())})
	}
	wantIP := svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != corev1.ClusterIPNone
	switch {
	case !wantIP:
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
		} else {
			svc.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
		}
	case old != nil && old.Spec.ClusterIP != "" && old.Spec.ClusterIP != corev1.ClusterIPNone && (svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == old.Spec.ClusterIP):
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = old.Spec.ClusterIP, old.Spec.ClusterIPs
	case svc.Spec.ClusterIP == "":
		ip, err := ad.alloc.ClusterIPs.Next(ctx, ref, dryRun)
		if err != nil {
			return fail(field.NewPath("spec", "clusterIPs"), svc.Spec.ClusterIPs, fmt.Errorf("failed to allocate IP: %v", err))
		}
		if !dryRun {
			ips = append(ips, ip)
		}
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = ip.String(), []string{ip.String()}
	default:
		ip, perr := netip.ParseAddr(svc.Spec.ClusterIP)
		if perr != nil {
			return fail(field.NewPath("spec", "clusterIPs").Index(0), svc.Spec.ClusterIP, fmt.Errorf("must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
		}
		if err := ad.alloc.ClusterIPs.Allocate(ctx, ip, ref, dryRun); err != nil {
			return fail(field.NewPath("spec", "clusterIPs"), []string{svc.Spec.ClusterIP}, fmt.Errorf("failed to allocate IP %s: %v", ip, err))
		}
		if !dryRun {
			ips = append(ips, ip)
		}
		svc.Spec.ClusterIPs = []string{ip.String()}
	}
	if !needsNodePorts(svc) {
		for i := range svc.Spec.Ports {
			if svc.Spec.Type == corev1.ServiceTypeClusterIP || svc.Spec.Type == corev1.ServiceTypeExternalName {
				svc.Spec.Ports[i].NodePort = 0
			}
		}
		return undo, nil
	}
	held := map[int32]bool{}
	if old != nil {
		for _, p := range old.Spec.Ports {
			held[p.NodePort] = p.NodePort != 0
		}
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		switch {
		case p.NodePort != 0 && held[p.NodePort]:
		case p.NodePort != 0:
			if err := ad.alloc.NodePorts.Allocate(int(p.NodePort)); err != nil {
				return fail(field.NewPath("spec", "ports").Index(i).Child("nodePort"), p.NodePort, err)
			}
			ports = append(ports, int(p.NodePort))
		default:
			n, err := ad.alloc.NodePorts.Next()
			if err != nil {
				return fail(field.NewPath("spec", "ports").Index(i).Child("nodePort"), p.NodePort, fmt.Errorf("failed to allocate a nodePort: %v", err))
			}
			ports = append(ports, n)
			p.NodePort = int32(n)
		}
	}
	return undo, nil
}

func needsNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

// releaseUnused frees what old held that cur (nil when deleted) no longer uses.
func (ad *admission) releaseUnused(ctx context.Context, old, cur *corev1.Service) {
	keepIP, keepPorts := "", map[int32]bool{}
	if cur != nil {
		keepIP = cur.Spec.ClusterIP
		for _, p := range cur.Spec.Ports {
			keepPorts[p.NodePort] = true
		}
	}
	if ip, err := netip.ParseAddr(old.Spec.ClusterIP); err == nil && old.Spec.ClusterIP != keepIP {
		ad.alloc.ClusterIPs.Release(ctx, ip, resources.ServiceRef{Namespace: old.Namespace, Name: old.Name})
	}
	for _, p := range old.Spec.Ports {
		if p.NodePort != 0 && !keepPorts[p.NodePort] {
			ad.alloc.NodePorts.Release(int(p.NodePort))
		}
	}
}

// loadAllocations marks what existing Services hold, at start.
func (ad *admission) loadAllocations(ctx context.Context) error {
	objs, _, _, err := ad.api.endpoints[servicesGVR].store.List(ctx, store.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return err
	}
	for _, o := range objs {
		svc := o.(*corev1.Service)
		if ip, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil {
			if err := ad.alloc.ClusterIPs.Mark(ctx, ip, resources.ServiceRef{Namespace: svc.Namespace, Name: svc.Name}); err != nil {
				return err
			}
		}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				if err := ad.alloc.NodePorts.Mark(int(p.NodePort)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
