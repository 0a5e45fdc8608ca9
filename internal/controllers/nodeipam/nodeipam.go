// Package nodeipam gives every Node its pod CIDRs (spec.podCIDR(s)): a /24 per node
// out of each IPv4 --cluster-cidr range (a /64 out of an IPv6 one). The agent builds
// its CNI config from them, and every agent routes to the others through them.
package nodeipam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/netip"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
)

// New returns the controller; clusterCIDR is one range or a comma-separated IPv4,IPv6
// pair. An unparsable range is logged and leaves nodes without CIDRs.
func New(c *controller.Context, clusterCIDR string) *controller.Controller {
	a := &allocator{client: c, reserved: map[string][]string{}}
	ranges, err := parseRanges(clusterCIDR)
	if err != nil {
		slog.Error("node IPAM disabled", "clusterCIDR", clusterCIDR, "err", err)
	}
	a.ranges = ranges
	nodes := c.Informers.Core().V1().Nodes()
	a.nodes = nodes.Lister()
	ctrl := controller.New("nodeipam", a.sync, 1)
	a.recorder = c.Recorder("node-ipam-controller")
	ctrl.Watch(nodes.Informer(), ctrl.Handler())
	return ctrl
}

// subnetRange is one cluster range and the prefix length each node gets from it.
type subnetRange struct {
	cidr netip.Prefix
	bits int
}

func parseRanges(s string) ([]subnetRange, error) {
	var out []subnetRange
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, err
		}
		bits := 24
		if p.Addr().Is6() {
			bits = 64
		}
		if p.Bits() > bits {
			return nil, fmt.Errorf("cluster CIDR %s is smaller than one node's /%d", p, bits)
		}
		out = append(out, subnetRange{cidr: p.Masked(), bits: bits})
	}
	if len(out) == 0 {
		return nil, errors.New("no cluster CIDR")
	}
	return out, nil
}

type allocator struct {
	client   *controller.Context
	nodes    corelisters.NodeLister
	ranges   []subnetRange
	recorder record.EventRecorder
	mu       sync.Mutex
	// reserved holds assignments written but maybe not yet seen by the informer, so
	// two nodes synced back to back never get the same range.
	reserved map[string][]string
	// exhausted is the error of the last pick that found a range full. It
	// stands until a node is deleted, the only way a subnet is freed (a node's
	// CIDRs never change): with more nodes than subnets, every status update
	// of every node without one would otherwise walk all nodes again.
	exhausted error
}

func (a *allocator) sync(ctx context.Context, name string) error {
	node, err := a.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		a.mu.Lock()
		delete(a.reserved, name)
		a.exhausted = nil
		a.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	if len(node.Spec.PodCIDRs) > 0 || node.Spec.PodCIDR != "" || len(a.ranges) == 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	err = a.exhausted
	var cidrs []string
	if err == nil {
		cidrs, err = a.pick(name)
		a.exhausted = err
	}
	if err != nil {
		a.recorder.Eventf(node, corev1.EventTypeWarning, "CIDRNotAvailable", "Node %s: %v", name, err)
		return err
	}
	n := node.DeepCopy()
	n.Spec.PodCIDR, n.Spec.PodCIDRs = cidrs[0], cidrs
	if _, err := a.client.Client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		return err
	}
	a.reserved[name] = cidrs
	slog.Info("pod CIDR assigned", "node", name, "podCIDRs", cidrs)
	return nil
}

// pick returns the first free subnet of each range.
func (a *allocator) pick(self string) ([]string, error) {
	used := map[string]bool{}
	all, err := a.nodes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	for _, n := range all {
		for _, c := range n.Spec.PodCIDRs {
			used[c] = true
		}
	}
	for node, cs := range a.reserved {
		if node != self {
			for _, c := range cs {
				used[c] = true
			}
		}
	}
	var out []string
	for _, r := range a.ranges {
		c, ok := firstFree(r, used)
		if !ok {
			return nil, fmt.Errorf("no free /%d left in cluster CIDR %s", r.bits, r.cidr)
		}
		out = append(out, c)
	}
	return out, nil
}

// firstFree walks the range's subnets in order.
func firstFree(r subnetRange, used map[string]bool) (string, bool) {
	count := new(big.Int).Lsh(big.NewInt(1), uint(r.bits-r.cidr.Bits()))
	limit := int64(1 << 16) // enough for any real cluster; keeps a /64-in-/48 walk bounded
	if count.IsInt64() && count.Int64() < limit {
		limit = count.Int64()
	}
	for i := int64(0); i < limit; i++ {
		p, ok := nthSubnet(r, i)
		if !ok {
			break
		}
		if !used[p.String()] {
			return p.String(), true
		}
	}
	return "", false
}

// nthSubnet is the i-th /bits subnet of r.cidr.
func nthSubnet(r subnetRange, i int64) (netip.Prefix, bool) {
	base := new(big.Int).SetBytes(r.cidr.Addr().AsSlice())
	total := r.cidr.Addr().BitLen()
	off := new(big.Int).Lsh(big.NewInt(i), uint(total-r.bits))
	v := new(big.Int).Add(base, off)
	b := v.Bytes()
	buf := make([]byte, total/8)
	if len(b) > len(buf) {
		return netip.Prefix{}, false
	}
	copy(buf[len(buf)-len(b):], b)
	addr, ok := netip.AddrFromSlice(buf)
	if !ok || !r.cidr.Contains(addr) {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(addr, r.bits), true
}
