package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

const (
	leaseNamespace = "kube-node-lease"
	leaseDuration  = 40
	heartbeatEvery = 10 * time.Second
	// statusEvery is how often the node status is written even when nothing changed,
	// so that its heartbeat times stay recent for the node lifecycle controller.
	statusEvery = time.Minute
)

// nodeLabels are the well-known labels plus the operator's.
func (k *Kubelet) nodeLabels() map[string]string {
	l := map[string]string{
		corev1.LabelHostname:      k.cfg.NodeName,
		corev1.LabelOSStable:      k.machine.OperatingSystem,
		corev1.LabelArchStable:    k.machine.Architecture,
		"beta.kubernetes.io/os":   k.machine.OperatingSystem,
		"beta.kubernetes.io/arch": k.machine.Architecture,
	}
	if k.cfg.ControlPlane {
		l["node-role.kubernetes.io/control-plane"] = ""
	}
	maps.Copy(l, k.cfg.Labels)
	return l
}

// registerNode creates the Node, or adopts an existing one (an agent restart) by
// adding its labels; taints are only set at creation, as users may edit them later.
func (k *Kubelet) registerNode(ctx context.Context) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: k.cfg.NodeName, Labels: k.nodeLabels()},
		Spec:       corev1.NodeSpec{Taints: k.cfg.Taints},
	}
	for {
		_, err := k.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			break
		}
		slog.Warn("registering node failed; retrying", "node", k.cfg.NodeName, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	cur, err := k.client.CoreV1().Nodes().Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read node %s: %w", k.cfg.NodeName, err)
	}
	want := cur.DeepCopy()
	if want.Labels == nil {
		want.Labels = map[string]string{}
	}
	maps.Copy(want.Labels, k.nodeLabels())
	if !maps.Equal(want.Labels, cur.Labels) {
		if cur, err = k.client.CoreV1().Nodes().Update(ctx, want, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("label node %s: %w", k.cfg.NodeName, err)
		}
	}
	slog.Info("node registered", "node", k.cfg.NodeName)
	return k.syncNodeStatus(ctx, true)
}

// nodeStatus computes the status this kubelet reports, keeping transition times of
// unchanged conditions from old.
func (k *Kubelet) nodeStatus(old *corev1.NodeStatus, now time.Time) corev1.NodeStatus {
	capacity := k.machine.capacity()
	st := corev1.NodeStatus{
		Capacity: capacity, Allocatable: capacity.DeepCopy(),
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(k.port)}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID: k.machine.MachineID, SystemUUID: k.machine.SystemUUIDSource, BootID: k.machine.BootID,
			KernelVersion: k.machine.KernelVersion, OSImage: k.machine.OSImage,
			ContainerRuntimeVersion: k.cfg.RuntimeVersion, KubeletVersion: k.cfg.Version, KubeProxyVersion: "",
			OperatingSystem: k.machine.OperatingSystem, Architecture: k.machine.Architecture,
		},
		Images: old.Images, VolumesInUse: old.VolumesInUse, VolumesAttached: old.VolumesAttached,
	}
	for _, ip := range k.cfg.NodeIPs {
		st.Addresses = append(st.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	st.Addresses = append(st.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: k.cfg.NodeName})
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"}
	if !k.networkReady.Load() {
		ready = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady",
			Message: "container runtime network not ready: waiting for the node's pod CIDR"}
	}
	if down := k.runtimeCondition(); down != nil {
		ready = *down
	}
	conds := append(k.eviction.conditions(), ready)
	for _, c := range conds {
		c.LastHeartbeatTime = metav1.NewTime(now.Truncate(time.Second))
		c.LastTransitionTime = c.LastHeartbeatTime
		for _, o := range old.Conditions {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		st.Conditions = append(st.Conditions, c)
	}
	return st
}

// updateNodeStatus writes the status when it changed (heartbeat times aside) or
// when force is set.
func (k *Kubelet) updateNodeStatus(ctx context.Context, node *corev1.Node, force bool) (*corev1.Node, error) {
	st := k.nodeStatus(&node.Status, time.Now())
	if !force && sameNodeStatus(node.Status, st) {
		return node, nil
	}
	n := node.DeepCopy()
	n.Status = st
	return k.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
}

func sameNodeStatus(a, b corev1.NodeStatus) bool {
	strip := func(s corev1.NodeStatus) corev1.NodeStatus {
		s = *s.DeepCopy()
		for i := range s.Conditions {
			s.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
		return s
	}
	return equality.Semantic.DeepEqual(strip(a), strip(b))
}

// heartbeat renews the Lease every 10s and refreshes the node status when it changes
// (or once a minute).
func (k *Kubelet) heartbeat(ctx context.Context) {
	lastStatus := time.Now()
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		if err := k.renewLease(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("renewing node lease failed", "node", k.cfg.NodeName, "err", err)
		}
		if err := k.syncNodeStatus(ctx, time.Since(lastStatus) > statusEvery); err == nil {
			lastStatus = time.Now()
		} else if ctx.Err() == nil {
			slog.Warn("updating node status failed", "node", k.cfg.NodeName, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// syncNodeStatus is also called when the network becomes ready, so Ready flips at once.
// Conflicts (the IPAM controller writing the spec, say) are retried on a fresh copy.
func (k *Kubelet) syncNodeStatus(ctx context.Context, force bool) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		node, err := k.client.CoreV1().Nodes().Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return k.registerNode(ctx)
		}
		if err != nil {
			return err
		}
		_, err = k.updateNodeStatus(ctx, node, force)
		return err
	})
}

func (k *Kubelet) renewLease(ctx context.Context) error {
	leases := k.client.CoordinationV1().Leases(leaseNamespace)
	now := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		node, nerr := k.client.CoreV1().Nodes().Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
		if nerr != nil {
			return nerr
		}
		l = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: k.cfg.NodeName, Namespace: leaseNamespace,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(k.cfg.NodeName),
				LeaseDurationSeconds: ptr.To[int32](leaseDuration), RenewTime: &now},
		}
		_, err = leases.Create(ctx, l, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.RenewTime = &now
	l.Spec.HolderIdentity = ptr.To(k.cfg.NodeName)
	l.Spec.LeaseDurationSeconds = ptr.To[int32](leaseDuration)
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}
