package apiserver

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/resources"
	"skiff/internal/store"
)

// Where the allocation records of node ports live in etcd (cluster IPs have
// IPAddress objects).
const nodePortClaims = "nodeports/"

// How often every server looks for allocation records no Service holds, and
// how long such a record must stay unheld before it is released.
const (
	allocRepairInterval = 20 * time.Second
	allocRepairGrace    = time.Minute
)

// allocRepair releases one kind of allocation record that no Service holds, and
// gives every value a Service holds its record back if it was lost.
type allocRepair struct {
	what     string
	claims   claimRecords
	services func(context.Context) ([]runtime.Object, error)
	leaks    resources.LeakedClaims
	held     func(*corev1.Service) []string
	// resync, if set, is told the records that remain: the node port allocator
	// counts exactly those as taken (another server's releases free ports here).
	resync func([]string)
	// record, if set, writes the record of a value svc holds that has none.
	record func(ctx context.Context, value string, svc resources.ServiceRef) error
}

// claimRecords lists and releases allocation records (store.Claims).
type claimRecords interface {
	List(ctx context.Context) ([]resources.ClaimRecord, error)
	ReleaseRecord(ctx context.Context, r resources.ClaimRecord) (bool, error)
}

// repairAllocations runs the repair of cluster IPs and node ports, and brings
// back the default ServiceCIDR if it was deleted, until ctx ends.
func (s *Server) repairAllocations(ctx context.Context, alloc *resources.Allocators) {
	services := func(ctx context.Context) ([]runtime.Object, error) {
		objs, _, _, err := s.API.endpoints[servicesGVR].store.List(ctx, store.ListOptions{ResourceVersion: "0"})
		return objs, err
	}
	ips := ipAddressClaims{records: ipAddressRecords{api: s.API}}
	repairs := []*allocRepair{
		{what: "cluster IP", claims: ips, services: services,
			leaks: resources.LeakedClaims{Grace: allocRepairGrace}, held: clusterIPsOf, record: ips.recordHeld},
		{what: "node port", claims: s.Store.Claims(nodePortClaims), services: services,
			leaks: resources.LeakedClaims{Grace: allocRepairGrace}, held: nodePortsOf, resync: alloc.NodePorts.Resync},
	}
	t := time.NewTicker(allocRepairInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, r := range repairs {
			if err := r.step(ctx); err != nil {
				slog.Debug("allocation repair skipped a round", "what", r.what, "err", err)
			}
		}
		if err := s.API.ensure(ctx, "servicecidrs", defaultServiceCIDR(s.cfg)); err != nil {
			slog.Debug("default ServiceCIDR not checked", "err", err)
		}
	}
}

// step reads the records, then the Services (so that a Service written just
// after its record was claimed is seen), and releases what has leaked.
func (r *allocRepair) step(ctx context.Context) error {
	records, err := r.claims.List(ctx)
	if err != nil {
		return err
	}
	objs, err := r.services(ctx)
	if err != nil {
		return err
	}
	held := map[string]bool{}
	recorded := map[string]bool{}
	for _, rec := range records {
		recorded[rec.Value] = true
	}
	for _, o := range objs {
		svc := o.(*corev1.Service)
		for _, v := range r.held(svc) {
			held[v] = true
			if r.record != nil && !recorded[v] {
				if err := r.record(ctx, v, resources.ServiceRef{Namespace: svc.Namespace, Name: svc.Name}); err != nil {
					return err
				}
			}
		}
	}
	released := map[string]bool{}
	for _, rec := range r.leaks.Step(time.Now(), records, held) {
		ok, err := r.claims.ReleaseRecord(ctx, rec)
		if err != nil {
			return err
		}
		if ok {
			released[rec.Value] = true
			slog.Info("released an allocation no Service holds", "what", r.what, "value", rec.Value, "grace", r.leaks.Grace)
		}
	}
	if r.resync == nil {
		return nil
	}
	var taken []string
	for _, rec := range records {
		if !released[rec.Value] {
			taken = append(taken, rec.Value)
		}
	}
	r.resync(taken)
	return nil
}

// clusterIPsOf are the addresses svc holds ("None" and "" are none).
func clusterIPsOf(svc *corev1.Service) []string {
	var out []string
	for _, ip := range append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...) {
		if _, err := netip.ParseAddr(ip); err == nil && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}

func nodePortsOf(svc *corev1.Service) []string {
	var out []string
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			out = append(out, strconv.Itoa(int(p.NodePort)))
		}
	}
	return out
}
