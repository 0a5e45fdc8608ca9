package simulate

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

const (
	leaseNamespace = "kube-node-lease"
	// leaseDuration matches the kubelet: four missed renewals make a node stale.
	leaseDuration = 40
	// SimulatedLabel marks simulated nodes so they are easy to select and delete.
	SimulatedLabel = "skiff.dev/simulated"
	kubeletVersion = "v1.37.2-skiff-sim"
)

func (s *simulator) nodeName(i int) string { return fmt.Sprintf("%s%d", s.opts.NamePrefix, i) }

// nodeIP gives node i a stable address in 172.16.0.0/12.
func nodeIP(i int) string {
	return fmt.Sprintf("172.%d.%d.%d", 16+(i>>16)&15, (i>>8)&255, i&255)
}

func (s *simulator) newNode(i int) *v1.Node {
	name := s.nodeName(i)
	labels := map[string]string{
		v1.LabelHostname: name, v1.LabelOSStable: "linux", v1.LabelArchStable: "amd64",
		SimulatedLabel: "true",
	}
	for k, v := range s.opts.Labels {
		labels[k] = v
	}
	capacity := v1.ResourceList{
		v1.ResourceCPU: s.opts.CPU, v1.ResourceMemory: s.opts.Memory,
		v1.ResourcePods: s.opts.Pods, v1.ResourceEphemeralStorage: s.opts.Storage,
	}
	for k, q := range s.opts.Extended {
		capacity[k] = q
	}
	n := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       v1.NodeSpec{Taints: append([]v1.Taint(nil), s.opts.Taints...)},
		Status:     v1.NodeStatus{Capacity: capacity, Allocatable: capacity.DeepCopy()},
	}
	s.decorate(n, i)
	return n
}

// decorate fills in what a kubelet reports about itself: addresses, versions and
// healthy conditions.
func (s *simulator) decorate(n *v1.Node, i int) {
	n.Status.Addresses = []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: nodeIP(i)}, {Type: v1.NodeHostName, Address: n.Name}}
	n.Status.NodeInfo = v1.NodeSystemInfo{KubeletVersion: kubeletVersion, OperatingSystem: "linux", Architecture: "amd64",
		ContainerRuntimeVersion: "sim://1.0", KernelVersion: "simulated", OSImage: "skiff simulated node"}
	n.Status.Phase = v1.NodeRunning
	n.Status.Conditions = readyConditions(time.Now())
}

// readyConditions is the condition set of a healthy kubelet.
func readyConditions(now time.Time) []v1.NodeCondition {
	t := metav1.NewTime(now)
	cond := func(typ v1.NodeConditionType, st v1.ConditionStatus, reason, msg string) v1.NodeCondition {
		return v1.NodeCondition{Type: typ, Status: st, Reason: reason, Message: msg, LastHeartbeatTime: t, LastTransitionTime: t}
	}
	return []v1.NodeCondition{
		cond(v1.NodeMemoryPressure, v1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		cond(v1.NodeDiskPressure, v1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		cond(v1.NodePIDPressure, v1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		cond(v1.NodeReady, v1.ConditionTrue, "KubeletReady", "kubelet is posting ready status (simulated)"),
	}
}

// registerNodes creates or refreshes every node and its lease, opts.Workers at a time.
func (s *simulator) registerNodes(ctx context.Context) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, s.opts.Workers)
	for i := 0; i < s.opts.Nodes; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := s.registerNode(ctx, i); err != nil {
				mu.Lock()
				firstErr = cmpErr(firstErr, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func (s *simulator) registerNode(ctx context.Context, i int) error {
	return s.register(ctx, s.newNode(i))
}

// register creates or refreshes a node, then its status and lease.
func (s *simulator) register(ctx context.Context, want *v1.Node) error {
	nodes := s.client.CoreV1().Nodes()
	got, err := nodes.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		if got, err = nodes.Get(ctx, want.Name, metav1.GetOptions{}); err == nil {
			got.Labels, got.Spec.Taints = want.Labels, want.Spec.Taints
			got, err = nodes.Update(ctx, got, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return fmt.Errorf("register node %s: %w", want.Name, err)
	}
	if !s.opts.FailNodes[want.Name] {
		// Controllers (node IPAM, node lifecycle) write the new node at once too; on a
		// conflict, read it again and retry.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			got.Status = want.Status
			_, err := nodes.UpdateStatus(ctx, got, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) {
				if fresh, gerr := nodes.Get(ctx, want.Name, metav1.GetOptions{}); gerr == nil {
					got = fresh
				}
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("node %s status: %w", want.Name, err)
		}
	}
	return s.renewLease(ctx, want.Name)
}

// renewLease creates or renews a node's lease, the heartbeat the node lifecycle
// controller watches. As a kubelet does, it renews the lease it last wrote, so a
// heartbeat is one write; it reads the lease again only when that write
// conflicts (someone else changed it) or it has none yet.
func (s *simulator) renewLease(ctx context.Context, name string) error {
	leases := s.client.CoordinationV1().Leases(leaseNamespace)
	now := metav1.NewMicroTime(time.Now())
	l, ok := s.leases.Load(name)
	if !ok {
		got, err := leases.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			got = &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: leaseNamespace},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(name),
					LeaseDurationSeconds: ptr.To[int32](leaseDuration), RenewTime: &now},
			}
			if got, err = leases.Create(ctx, got, metav1.CreateOptions{}); err == nil {
				s.leases.Store(name, got)
			}
			return err
		}
		if err != nil {
			return err
		}
		l = got
	}
	next := l.(*coordinationv1.Lease).DeepCopy()
	next.Spec.RenewTime = &now
	done, err := leases.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		s.leases.Delete(name)
		return err
	}
	s.leases.Store(name, done)
	return nil
}

// heartbeat renews the leases of the healthy nodes every interval. Renewals are
// spread over the interval so thousands of nodes do not all write at once, and
// run concurrently (at most Workers at a time), so a slow API server delays a
// renewal rather than every one after it: one at a time, 5,000 nodes' renewals
// took longer than the grace period and nodes were marked NotReady. The list is
// read again every round, as pool nodes come and go.
func (s *simulator) heartbeat(ctx context.Context) {
	sem := make(chan struct{}, max(s.opts.Workers, 1))
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		var names []string
		for _, n := range s.names() {
			if !s.opts.FailNodes[n] {
				names = append(names, n)
			}
		}
		rand.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		step := s.opts.HeartbeatInterval / time.Duration(max(len(names), 1))
		t := time.NewTicker(max(step, time.Millisecond))
		for i := 0; i < max(len(names), 1) && ctx.Err() == nil; i++ {
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			if i >= len(names) || ctx.Err() != nil {
				continue
			}
			select {
			case <-ctx.Done():
				continue
			case sem <- struct{}{}:
			}
			wg.Add(1)
			go func(name string) {
				defer func() { <-sem; wg.Done() }()
				if err := s.renewLease(ctx, name); err != nil && ctx.Err() == nil {
					slog.Warn("renewing lease", "node", name, "err", err)
				}
			}(names[i])
		}
		t.Stop()
	}
}

// keepReady puts Ready back to True on healthy nodes if something (a restarted
// simulator, a controller) changed it, and refreshes the heartbeat times.
func (s *simulator) keepReady(ctx context.Context, node *v1.Node) error {
	if s.opts.FailNodes[node.Name] {
		return nil
	}
	for _, c := range node.Status.Conditions {
		if c.Type == v1.NodeReady && c.Status == v1.ConditionTrue {
			return nil
		}
	}
	n := node.DeepCopy()
	n.Status.Conditions = readyConditions(time.Now())
	_, err := s.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	return err
}
