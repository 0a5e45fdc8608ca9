package apiserver

import (
	"context"
	"net"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/hostnet"
)

// advertiseAddress is the address pods reach this API server at: the bind address,
// or the default route's address when listening on all of them. Loopback cannot be
// reached from a pod, so it gives "".
func advertiseAddress(bind string) string {
	ip := bind
	if bind == "" || bind == "0.0.0.0" || bind == "::" {
		var err error
		if ip, err = hostnet.DefaultRouteIP(); err != nil {
			return ""
		}
	}
	if parsed := net.ParseIP(ip); parsed == nil || parsed.IsLoopback() {
		return ""
	}
	return ip
}

// publishKubernetesEndpoints points the `kubernetes` Service at the live API
// servers, in both Endpoints and EndpointSlice form, as the API server itself does
// in Kubernetes. addrs are host:port; servers on different ports get one subset
// per port, and the slice holds the lowest port's (every server writes the same).
func (a *API) publishKubernetesEndpoints(ctx context.Context, addrs []netip.AddrPort) error {
	if len(addrs) == 0 {
		return nil
	}
	slices.SortFunc(addrs, func(x, y netip.AddrPort) int { return x.Compare(y) })
	byPort := map[uint16][]string{}
	var ports []uint16
	for _, ap := range addrs {
		if byPort[ap.Port()] == nil {
			ports = append(ports, ap.Port())
		}
		byPort[ap.Port()] = append(byPort[ap.Port()], ap.Addr().String())
	}
	slices.Sort(ports)
	ep := &corev1.Endpoints{
		// The API server writes the slice itself: mirroring would only make a second one.
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default", Labels: map[string]string{discoveryv1.LabelSkipMirror: "true"}},
	}
	for _, p := range ports {
		sub := corev1.EndpointSubset{Ports: []corev1.EndpointPort{{Name: "https", Port: int32(p), Protocol: corev1.ProtocolTCP}}}
		for _, ip := range byPort[p] {
			sub.Addresses = append(sub.Addresses, corev1.EndpointAddress{IP: ip})
		}
		ep.Subsets = append(ep.Subsets, sub)
	}
	labels := map[string]string{discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "skiff-apiserver"}
	ready, name, proto, port := true, "https", corev1.ProtocolTCP, int32(ports[0])
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "kubernetes", Namespace: "default", Labels: labels},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
	}
	for _, ip := range byPort[ports[0]] {
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
	for _, o := range []struct {
		resource string
		obj      runtime.Object
	}{{"endpoints", ep}, {"endpointslices", slice}} {
		if err := a.upsert(ctx, o.resource, o.obj); err != nil {
			return err
		}
	}
	return nil
}

// upsert creates obj, or replaces the stored one (the server's port can change
// between runs).
func (a *API) upsert(ctx context.Context, resource string, obj runtime.Object) error {
	for gvr, ep := range a.endpoints {
		if gvr.Resource != resource || gvr.GroupVersion() != ep.Storage || ep.Virtual {
			continue
		}
		obj.GetObjectKind().SetGroupVersionKind(ep.StorageGVK())
		m := obj.(metav1.Object)
		cur, err := ep.store.Get(ctx, m.GetNamespace(), m.GetName())
		if apierrors.IsNotFound(err) {
			_, err = a.createObject(ctx, ep, m.GetNamespace(), obj, writeOptions{manager: "skiff-apiserver"}, true)
			return err
		}
		if err != nil {
			return err
		}
		m.SetResourceVersion(resourceVersion(cur))
		_, err = a.updateObject(ctx, ep, request{Namespace: m.GetNamespace(), Name: m.GetName()}, cur, obj, writeOptions{manager: "skiff-apiserver"}, true)
		return err
	}
	return nil
}
