package endpointslice

import (
	"cmp"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"skiff/internal/controllers/controller"
)

// MirrorName is the managed-by label value of slices mirrored from Endpoints.
const MirrorName = "endpointslicemirroring-controller.k8s.io"

// NewMirroring returns the EndpointSlice mirroring controller: a Service without a
// selector gets its endpoints from an Endpoints object its user writes, and this
// controller mirrors that object into EndpointSlices so that readers of slices (the
// service proxy, DNS) see them too. Endpoints labelled skip-mirror are left alone.
func NewMirroring(c *controller.Context) *controller.Controller {
	s := newSyncer(c, MirrorName)
	ctl := controller.New("endpointslicemirroring", s.sync, 2)
	epInf := c.Informers.Core().V1().Endpoints()
	eps := epInf.Lister()
	s.desired = func(svc *corev1.Service) (map[string]*group, action, error) {
		if svc.Spec.Selector != nil {
			return nil, removeSlices, nil
		}
		ep, err := eps.Endpoints(svc.Namespace).Get(svc.Name)
		if apierrors.IsNotFound(err) {
			return nil, removeSlices, nil
		}
		if err != nil {
			return nil, leaveSlices, err
		}
		if ep.Labels[discoveryv1.LabelSkipMirror] == "true" {
			return nil, removeSlices, nil
		}
		return mirrored(ep), writeSlices, nil
	}
	ctl.Watch(c.Informers.Core().V1().Services().Informer(), ctl.Handler())
	ctl.Watch(epInf.Informer(), ctl.Handler())
	ctl.Watch(c.Informers.Discovery().V1().EndpointSlices().Informer(), s.sliceHandler(ctl))
	return ctl
}

// mirrored groups an Endpoints object's addresses by address type and port set.
func mirrored(ep *corev1.Endpoints) map[string]*group {
	out := map[string]*group{}
	for _, ss := range ep.Subsets {
		ports := make([]discoveryv1.EndpointPort, 0, len(ss.Ports))
		for _, p := range ss.Ports {
			ports = append(ports, discoveryv1.EndpointPort{Name: &p.Name, Port: &p.Port, Protocol: &p.Protocol, AppProtocol: p.AppProtocol})
		}
		add := func(a corev1.EndpointAddress, ready bool) {
			ip, err := netip.ParseAddr(a.IP)
			if err != nil {
				return
			}
			at := discoveryv1.AddressTypeIPv4
			if ip.Is6() {
				at = discoveryv1.AddressTypeIPv6
			}
			key := groupKey(at, ports)
			g := out[key]
			if g == nil {
				g = &group{addressType: at, ports: ports}
				out[key] = g
			}
			e := discoveryv1.Endpoint{Addresses: []string{a.IP}, NodeName: a.NodeName, TargetRef: a.TargetRef,
				Conditions: discoveryv1.EndpointConditions{Ready: &ready}}
			if a.Hostname != "" {
				e.Hostname = &a.Hostname
			}
			g.endpoints = append(g.endpoints, e)
		}
		for _, a := range ss.Addresses {
			add(a, true)
		}
		for _, a := range ss.NotReadyAddresses {
			add(a, false)
		}
	}
	for _, g := range out {
		slices.SortFunc(g.endpoints, func(a, b discoveryv1.Endpoint) int { return cmp.Compare(endpointKey(a), endpointKey(b)) })
	}
	return out
}
