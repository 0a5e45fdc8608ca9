package dns

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// Names of the objects that make the DNS servers reachable from pods.
const (
	ServiceName      = "kube-dns"
	ServiceNamespace = metav1.NamespaceSystem
	// ManagedBy marks the per-node EndpointSlices this package writes, so the
	// EndpointSlice controller leaves them alone.
	ManagedBy = "skiff-dns"
	// MetricsPort is the port the Service advertises for the DNS metrics.
	MetricsPort = 9153
)

// Publish makes this node's DNS server (addr:port) one of the endpoints of the
// kube-dns Service at serviceIP, creating the Service when it is missing. It is
// idempotent; agents call it at start and periodically to repair drift. The Service
// has no selector: each agent keeps its own EndpointSlice, owned by its Node so that
// deleting the Node removes it.
func Publish(ctx context.Context, client kubernetes.Interface, nodeName string, addr net.IP, port int32, serviceIP string) error {
	if addr == nil || port <= 0 || nodeName == "" {
		return fmt.Errorf("dns: publish needs a node name, an address and a port")
	}
	if err := ensureService(ctx, client, serviceIP); err != nil {
		return err
	}
	return ensureSlice(ctx, client, desiredSlice(ctx, client, nodeName, addr, port))
}

// KeepPublished publishes at once, then again every interval (and every few
// seconds while it fails), so the endpoint comes back if someone deletes it. When
// ctx ends it unpublishes: a node whose DNS server stopped must not receive
// queries.
func KeepPublished(ctx context.Context, client kubernetes.Interface, nodeName string, addr net.IP, port int32, serviceIP string, interval time.Duration) {
	log := slog.Default().With("component", "dns", "node", nodeName)
	for wait := time.Duration(0); ; {
		select {
		case <-ctx.Done():
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := Unpublish(uctx, client, nodeName); err != nil {
				log.Warn("unpublish DNS endpoint", "err", err)
			}
			return
		case <-time.After(wait):
		}
		wait = interval
		if err := Publish(ctx, client, nodeName, addr, port, serviceIP); err != nil {
			log.Warn("publish DNS endpoint; will retry", "err", err)
			wait = min(interval, 5*time.Second)
		}
	}
}

// Unpublish removes this node's endpoint, for a clean shutdown.
func Unpublish(ctx context.Context, client kubernetes.Interface, nodeName string) error {
	err := client.DiscoveryV1().EndpointSlices(ServiceNamespace).Delete(ctx, sliceName(nodeName), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("dns: delete endpoint slice: %w", err)
	}
	return nil
}

func sliceName(node string) string { return ServiceName + "-" + node }

func desiredService(serviceIP string) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: ServiceName, Namespace: ServiceNamespace,
			Labels: map[string]string{"k8s-app": "kube-dns", "kubernetes.io/name": "skiff-dns"},
		},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP,
			Ports: []corev1.ServicePort{
				// Named, not numbered: each node's server may listen on its own
				// port (its EndpointSlice says which), so a number here would flip
				// between the agents that publish it.
				{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromString("dns")},
				{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53, TargetPort: intstr.FromString("dns-tcp")},
				{Name: "metrics", Protocol: corev1.ProtocolTCP, Port: MetricsPort, TargetPort: intstr.FromInt32(MetricsPort)},
			},
		},
	}
	if serviceIP != "" {
		svc.Spec.ClusterIP = serviceIP
		svc.Spec.ClusterIPs = []string{serviceIP}
	}
	return svc
}

func ensureService(ctx context.Context, client kubernetes.Interface, serviceIP string) error {
	want := desiredService(serviceIP)
	svcs := client.CoreV1().Services(ServiceNamespace)
	cur, err := svcs.Get(ctx, ServiceName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cur, err = svcs.Create(ctx, want, metav1.CreateOptions{})
		if err == nil {
			return nil
		}
		if apierrors.IsAlreadyExists(err) { // another agent won the race
			cur, err = svcs.Get(ctx, ServiceName, metav1.GetOptions{})
		}
	}
	if err != nil {
		return fmt.Errorf("dns: ensure service %s/%s: %w", ServiceNamespace, ServiceName, err)
	}
	if serviceIP != "" && cur.Spec.ClusterIP != serviceIP {
		// The cluster IP is immutable; pods' resolv.conf points at serviceIP, so a
		// different address means pods cannot resolve anything. Say so loudly.
		return fmt.Errorf("dns: service %s/%s has cluster IP %s, want %s; delete it to let skiff recreate it",
			ServiceNamespace, ServiceName, cur.Spec.ClusterIP, serviceIP)
	}
	if serviceUpToDate(cur, want) {
		return nil
	}
	upd := cur.DeepCopy()
	if upd.Labels == nil {
		upd.Labels = map[string]string{}
	}
	for k, v := range want.Labels {
		upd.Labels[k] = v
	}
	upd.Spec.Selector = nil
	upd.Spec.Ports = want.Spec.Ports
	if _, err := svcs.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("dns: update service %s/%s: %w", ServiceNamespace, ServiceName, err)
	}
	return nil
}

func serviceUpToDate(cur, want *corev1.Service) bool {
	for k, v := range want.Labels {
		if cur.Labels[k] != v {
			return false
		}
	}
	if len(cur.Spec.Selector) > 0 || len(cur.Spec.Ports) != len(want.Spec.Ports) {
		return false
	}
	for i, p := range want.Spec.Ports {
		c := cur.Spec.Ports[i]
		if c.Name != p.Name || c.Protocol != p.Protocol || c.Port != p.Port || c.TargetPort != p.TargetPort {
			return false
		}
	}
	return true
}

func desiredSlice(ctx context.Context, client kubernetes.Interface, nodeName string, addr net.IP, port int32) *discoveryv1.EndpointSlice {
	family := discoveryv1.AddressTypeIPv4
	if addr.To4() == nil {
		family = discoveryv1.AddressTypeIPv6
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: sliceName(nodeName), Namespace: ServiceNamespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: ServiceName,
				discoveryv1.LabelManagedBy:   ManagedBy,
			},
		},
		AddressType: family,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{addr.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
			NodeName:   ptr.To(nodeName),
		}},
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr.To("dns"), Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(port)},
			{Name: ptr.To("dns-tcp"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(port)},
			{Name: ptr.To("metrics"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(MetricsPort))},
		},
	}
	// Owned by the Node, so the garbage collector removes a departed node's
	// endpoint. Without a Node object (not registered yet) the slice is unowned
	// until the next Publish.
	if node, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{}); err == nil {
		slice.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
		}}
	}
	return slice
}

func ensureSlice(ctx context.Context, client kubernetes.Interface, want *discoveryv1.EndpointSlice) error {
	slices := client.DiscoveryV1().EndpointSlices(ServiceNamespace)
	cur, err := slices.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = slices.Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("dns: create endpoint slice %s: %w", want.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("dns: get endpoint slice %s: %w", want.Name, err)
	}
	if sliceUpToDate(cur, want) {
		return nil
	}
	if cur.AddressType != want.AddressType {
		// The address type is immutable: replace the slice.
		if err := slices.Delete(ctx, cur.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("dns: replace endpoint slice %s: %w", want.Name, err)
		}
		if _, err := slices.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("dns: create endpoint slice %s: %w", want.Name, err)
		}
		return nil
	}
	upd := cur.DeepCopy()
	upd.Labels, upd.Endpoints, upd.Ports = want.Labels, want.Endpoints, want.Ports
	if len(want.OwnerReferences) > 0 {
		upd.OwnerReferences = want.OwnerReferences
	}
	if _, err := slices.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("dns: update endpoint slice %s: %w", want.Name, err)
	}
	return nil
}

func sliceUpToDate(cur, want *discoveryv1.EndpointSlice) bool {
	return equality.Semantic.DeepEqual(cur.Labels, want.Labels) &&
		cur.AddressType == want.AddressType &&
		equality.Semantic.DeepEqual(cur.Endpoints, want.Endpoints) &&
		equality.Semantic.DeepEqual(cur.Ports, want.Ports) &&
		(len(want.OwnerReferences) == 0 || equality.Semantic.DeepEqual(cur.OwnerReferences, want.OwnerReferences))
}
