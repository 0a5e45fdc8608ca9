package dns

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// Index names are prefixed so that other components sharing the informer factory
// (the ingress controller, the proxy) can add their own without colliding.
const (
	indexSliceService = "skiff-dns/service"
	indexServiceIP    = "skiff-dns/cluster-ip"
	indexSliceIP      = "skiff-dns/endpoint-ip"
	indexPodIP        = "skiff-dns/pod-ip"
)

// store answers the few questions the resolver asks of the informer caches. The
// indexes turn every lookup, including reverse ones, into a map access, so a query
// never scans all Services or Pods.
type store struct {
	services cache.Indexer
	slices   cache.Indexer
	pods     cache.Indexer
	synced   []cache.InformerSynced
}

func newStore(f informers.SharedInformerFactory) (*store, error) {
	svc := f.Core().V1().Services().Informer()
	eps := f.Discovery().V1().EndpointSlices().Informer()
	pods := f.Core().V1().Pods().Informer()
	if err := addIndex(svc, indexServiceIP, serviceIPs); err != nil {
		return nil, err
	}
	if err := addIndex(eps, indexSliceService, sliceService); err != nil {
		return nil, err
	}
	if err := addIndex(eps, indexSliceIP, sliceIPs); err != nil {
		return nil, err
	}
	if err := addIndex(pods, indexPodIP, podIPs); err != nil {
		return nil, err
	}
	return &store{
		services: svc.GetIndexer(),
		slices:   eps.GetIndexer(),
		pods:     pods.GetIndexer(),
		synced:   []cache.InformerSynced{svc.HasSynced, eps.HasSynced, pods.HasSynced},
	}, nil
}

// addIndex is idempotent so that two servers built on one factory (tests, or a
// restart inside one process) do not fail on the second registration.
func addIndex(inf cache.SharedIndexInformer, name string, fn cache.IndexFunc) error {
	if _, ok := inf.GetIndexer().GetIndexers()[name]; ok {
		return nil
	}
	if err := inf.AddIndexers(cache.Indexers{name: fn}); err != nil {
		return fmt.Errorf("dns: add index %s: %w", name, err)
	}
	return nil
}

func serviceIPs(obj any) ([]string, error) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, ip := range clusterIPs(s) {
		out = append(out, ip.String())
	}
	return out, nil
}

func sliceService(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelServiceName] == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + strings.ToLower(s.Labels[discoveryv1.LabelServiceName])}, nil
}

func sliceIPs(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, ep := range s.Endpoints {
		for _, a := range ep.Addresses {
			if ip, err := netip.ParseAddr(a); err == nil {
				out = append(out, ip.String())
			}
		}
	}
	return out, nil
}

func podIPs(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.Spec.HostNetwork {
		// A host-network pod shares the node's address; naming it after one pod
		// would be a lie for every other process on the node.
		return nil, nil
	}
	var out []string
	for _, a := range p.Status.PodIPs {
		if ip, err := netip.ParseAddr(a.IP); err == nil {
			out = append(out, ip.String())
		}
	}
	return out, nil
}

// clusterIPs returns the parsed cluster IPs of a Service that has them; headless and
// ExternalName services have none.
func clusterIPs(s *corev1.Service) []netip.Addr {
	ips := s.Spec.ClusterIPs
	if len(ips) == 0 && s.Spec.ClusterIP != "" {
		ips = []string{s.Spec.ClusterIP}
	}
	var out []netip.Addr
	for _, raw := range ips {
		if ip, err := netip.ParseAddr(raw); err == nil {
			out = append(out, ip)
		}
	}
	return out
}

func (s *store) service(ns, name string) *corev1.Service {
	obj, ok, err := s.services.GetByKey(ns + "/" + name)
	if err != nil || !ok {
		return nil
	}
	return obj.(*corev1.Service)
}

// namespaceHasServices tells an existing namespace label (an empty non-terminal,
// answered with NODATA) from a name that does not exist (NXDOMAIN).
func (s *store) namespaceHasServices(ns string) bool {
	objs, err := s.services.ByIndex(cache.NamespaceIndex, ns)
	return err == nil && len(objs) > 0
}

func (s *store) servicesByIP(ip netip.Addr) []*corev1.Service {
	objs, _ := s.services.ByIndex(indexServiceIP, ip.String())
	out := make([]*corev1.Service, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*corev1.Service))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp) })
	return out
}

func (s *store) slicesOf(ns, svc string) []*discoveryv1.EndpointSlice {
	objs, _ := s.slices.ByIndex(indexSliceService, ns+"/"+svc)
	return toSlices(objs)
}

func (s *store) slicesByIP(ip netip.Addr) []*discoveryv1.EndpointSlice {
	objs, _ := s.slices.ByIndex(indexSliceIP, ip.String())
	return toSlices(objs)
}

func toSlices(objs []any) []*discoveryv1.EndpointSlice {
	out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*discoveryv1.EndpointSlice))
	}
	// Sorted by name so that answers are stable between queries.
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *store) podsByIP(ip netip.Addr) []*corev1.Pod {
	objs, _ := s.pods.ByIndex(indexPodIP, ip.String())
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		p := o.(*corev1.Pod)
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out
}
