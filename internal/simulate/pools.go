package simulate

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/util/retry"

	"skiff/internal/nodepool"
)

// poolPeriod is how often the pools are brought to their desired sizes, the delay a
// cloud provider would add to a node group resize.
const poolPeriod = time.Second

// poolLoop publishes the pools and then keeps each one at its desired size.
func (s *simulator) poolLoop(ctx context.Context, nodes corelisters.NodeLister) {
	if len(s.opts.Pools) == 0 {
		return
	}
	for ctx.Err() == nil {
		if err := s.publishPools(ctx); err != nil {
			slog.Warn("publishing node pools", "err", err)
			time.Sleep(poolPeriod)
			continue
		}
		break
	}
	s.adoptPoolNodes(nodes)
	t := time.NewTicker(poolPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.resizePools(ctx, nodes); err != nil && ctx.Err() == nil {
			slog.Warn("resizing node pools", "err", err)
		}
	}
}

// publishPools writes the pool templates into the protocol ConfigMap, keeping the
// desired sizes an autoscaler already set.
func (s *simulator) publishPools(ctx context.Context) error {
	cms := s.client.CoreV1().ConfigMaps(nodepool.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := cms.Get(ctx, nodepool.ConfigMapName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			cm = &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: nodepool.ConfigMapName, Namespace: nodepool.Namespace}}
			if err := nodepool.Encode(cm, s.opts.Pools); err != nil {
				return err
			}
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		if err := nodepool.Encode(cm, s.opts.Pools); err != nil {
			return err
		}
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
}

// adoptPoolNodes takes over the pool nodes a previous run registered.
func (s *simulator) adoptPoolNodes(nodes corelisters.NodeLister) {
	for _, p := range s.opts.Pools {
		list, _ := nodes.List(labels.SelectorFromSet(labels.Set{nodepool.Label: p.Name}))
		for _, n := range list {
			s.addOurs(n.Name)
		}
	}
}

func (s *simulator) addOurs(name string) int {
	s.oursMu.Lock()
	defer s.oursMu.Unlock()
	if i, ok := s.ours[name]; ok {
		return i
	}
	i := s.nextIndex
	s.nextIndex++
	s.ours[name] = i
	return i
}

// poolMembers lists our nodes of pool p, oldest index first.
func (s *simulator) poolMembers(p string) []string {
	prefix := s.opts.NamePrefix + p + "-"
	var out []string
	for _, n := range s.names() {
		if strings.HasPrefix(n, prefix) {
			if _, err := strconv.Atoi(n[len(prefix):]); err == nil {
				out = append(out, n)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return s.indexOf(out[i]) < s.indexOf(out[j]) })
	return out
}

// resizePools creates or deletes nodes until every pool has its desired size.
func (s *simulator) resizePools(ctx context.Context, nodes corelisters.NodeLister) error {
	cm, err := s.client.CoreV1().ConfigMaps(nodepool.Namespace).Get(ctx, nodepool.ConfigMapName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return s.publishPools(ctx)
	}
	if err != nil {
		return err
	}
	_, desired, err := nodepool.Read(cm)
	if err != nil {
		return err
	}
	for _, p := range s.opts.Pools {
		members := s.poolMembers(p.Name)
		switch want := desired[p.Name]; {
		case len(members) < want:
			err = s.growPool(ctx, p, members, want-len(members))
		case len(members) > want:
			err = s.shrinkPool(ctx, nodes, members, len(members)-want)
		}
		if err != nil {
			return fmt.Errorf("pool %s: %w", p.Name, err)
		}
	}
	return nil
}

func (s *simulator) growPool(ctx context.Context, p nodepool.Pool, members []string, n int) error {
	used := map[string]bool{}
	for _, m := range members {
		used[m] = true
	}
	for k := 0; n > 0; k++ {
		name := fmt.Sprintf("%s%s-%d", s.opts.NamePrefix, p.Name, k)
		if used[name] {
			continue
		}
		node := p.Template(name)
		node.Labels[SimulatedLabel] = "true"
		s.decorate(node, s.addOurs(name))
		if err := s.register(ctx, node); err != nil {
			return err
		}
		slog.Info("pool node added", "pool", p.Name, "node", name)
		n--
	}
	return nil
}

// shrinkPool deletes n nodes: those the autoscaler marked for deletion first, then
// the newest.
func (s *simulator) shrinkPool(ctx context.Context, nodes corelisters.NodeLister, members []string, n int) error {
	marked := func(name string) bool {
		node, err := nodes.Get(name)
		if err != nil {
			return false
		}
		for _, t := range node.Spec.Taints {
			if t.Key == nodepool.ToBeDeletedTaint {
				return true
			}
		}
		return false
	}
	sort.SliceStable(members, func(i, j int) bool { return marked(members[i]) && !marked(members[j]) })
	for _, name := range members[:n] {
		err := s.client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		_ = s.client.CoordinationV1().Leases(leaseNamespace).Delete(ctx, name, metav1.DeleteOptions{})
		s.leases.Delete(name)
		s.oursMu.Lock()
		delete(s.ours, name)
		s.oursMu.Unlock()
		slog.Info("pool node deleted", "node", name)
	}
	return nil
}
