package simulate

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"skiff/internal/intern"
)

// podIP hands out addresses from node i's /24, the i-th of opts.PodCIDR, cycling
// through it so an address is reused only after 253 newer pods.
func (s *simulator) podIP(node string) string {
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	s.nextIP[node]++
	base := binary.BigEndian.Uint32(s.opts.PodCIDR.IP.To4()) + uint32(s.indexOf(node))<<8
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, base+uint32(s.nextIP[node]%253+1))
	return ip.String()
}

// syncPod makes a pod bound to one of our nodes look like a kubelet ran it: a
// deleted pod is finished at once, a new one becomes Running and Ready.
func (s *simulator) syncPod(ctx context.Context, key string) error {
	ns, name := splitKey(key)
	pod, err := s.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, ok := s.index(pod.Spec.NodeName); !ok {
		return nil
	}
	if pod.DeletionTimestamp != nil {
		err := s.client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0), Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	if s.opts.FailNodes[pod.Spec.NodeName] {
		return nil
	}
	next := pod.DeepCopy()
	switch {
	case !running(pod):
		s.markRunning(next)
	case !markReady(next):
		return nil
	}
	_, err = s.client.CoreV1().Pods(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func running(pod *v1.Pod) bool {
	if pod.Status.Phase != v1.PodRunning && pod.Status.Phase != v1.PodSucceeded && pod.Status.Phase != v1.PodFailed {
		return false
	}
	return pod.Status.PodIP != "" || pod.Status.Phase != v1.PodRunning
}

// markReady sets a Running pod's Ready conditions back to True and reports whether it
// changed anything: the node lifecycle controller marks pods not ready while their node
// misses heartbeats, and a kubelet that is alive puts them right on its next status
// sync, as its probes still pass.
func markReady(pod *v1.Pod) bool {
	if !needsReady(pod) {
		return false
	}
	now := metav1.NewTime(time.Now())
	for i := range pod.Status.Conditions {
		if c := &pod.Status.Conditions[i]; readyCondition(c) && c.Status != v1.ConditionTrue {
			c.Status, c.Reason, c.Message, c.LastTransitionTime = v1.ConditionTrue, "", "", now
		}
	}
	for i := range pod.Status.ContainerStatuses {
		pod.Status.ContainerStatuses[i].Ready = true
	}
	return true
}

// needsReady reports whether a Running pod has a readiness markReady would restore.
func needsReady(pod *v1.Pod) bool {
	if pod.Status.Phase != v1.PodRunning {
		return false
	}
	for i := range pod.Status.Conditions {
		if c := &pod.Status.Conditions[i]; readyCondition(c) && c.Status != v1.ConditionTrue {
			return true
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if !cs.Ready {
			return true
		}
	}
	return false
}

func readyCondition(c *v1.PodCondition) bool {
	return c.Type == v1.PodReady || c.Type == v1.ContainersReady
}

func (s *simulator) markRunning(pod *v1.Pod) {
	now := metav1.NewTime(time.Now())
	ip := s.podIP(pod.Spec.NodeName)
	st := &pod.Status
	st.Phase = v1.PodRunning
	st.HostIP = nodeIP(s.indexOf(pod.Spec.NodeName))
	st.HostIPs = []v1.HostIP{{IP: st.HostIP}}
	st.PodIP, st.PodIPs = ip, []v1.PodIP{{IP: ip}}
	st.StartTime = &now
	st.Conditions = nil
	for _, t := range []v1.PodConditionType{v1.PodReadyToStartContainers, v1.PodInitialized,
		v1.PodReady, v1.ContainersReady, v1.PodScheduled} {
		st.Conditions = append(st.Conditions, v1.PodCondition{Type: t, Status: v1.ConditionTrue, LastTransitionTime: now})
	}
	st.InitContainerStatuses = nil
	for _, c := range pod.Spec.InitContainers {
		cs := containerStatus(pod.UID, &c, now)
		if c.RestartPolicy == nil || *c.RestartPolicy != v1.ContainerRestartPolicyAlways {
			cs.Ready, cs.Started = true, ptr.To(false)
			cs.State = v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
				Reason: "Completed", StartedAt: now, FinishedAt: now, ContainerID: cs.ContainerID}}
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	st.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, containerStatus(pod.UID, &c, now))
	}
}

func containerStatus(uid types.UID, c *v1.Container, now metav1.Time) v1.ContainerStatus {
	return v1.ContainerStatus{
		Name: c.Name, Image: c.Image, ImageID: "sim://" + c.Image,
		ContainerID: fmt.Sprintf("sim://%s-%s", uid, c.Name),
		Ready:       true, Started: ptr.To(true),
		State: v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: now}},
	}
}

func splitKey(key string) (ns, name string) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return "", key
}

// slimPod is the informer's transform: it keeps of a pod only what a simulated
// kubelet reads (its identity, node, deletion, containers' names and images and
// its whole status, which a status update sends back), since with 150,000 pods
// the informer's copies are most of the process's memory. A status update
// takes only the status from the pod it sends; the API server keeps the rest.
// What is left is shared with earlier pods where equal (intern.Pod).
func slimPod(obj any) (any, error) {
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return obj, nil
	}
	out := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID,
			ResourceVersion: pod.ResourceVersion, DeletionTimestamp: pod.DeletionTimestamp},
		Spec: v1.PodSpec{NodeName: pod.Spec.NodeName,
			InitContainers: slimContainers(pod.Spec.InitContainers), Containers: slimContainers(pod.Spec.Containers)},
		Status: pod.Status,
	}
	intern.Pod(out)
	return out, nil
}

func slimContainers(cs []v1.Container) []v1.Container {
	if cs == nil {
		return nil
	}
	out := make([]v1.Container, len(cs))
	for i, c := range cs {
		out[i] = v1.Container{Name: c.Name, Image: c.Image, RestartPolicy: c.RestartPolicy}
	}
	return out
}
