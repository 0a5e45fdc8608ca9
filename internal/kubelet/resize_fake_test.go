package kubelet

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func resizePod(name string, policy corev1.ResourceResizeRestartPolicy) *corev1.Pod {
	return simplePod(name, corev1.Container{Name: "app", Image: "skiff.local/pause:1",
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}},
		ResizePolicy: []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceMemory, RestartPolicy: policy}}})
}

// resizeTo changes the stored pod's memory limit (as pods/resize would) or CPU request.
func (n *fakeNode) resizeTo(name string, edit func(*corev1.Container)) {
	n.t.Helper()
	pod := n.get(name)
	edit(&pod.Spec.Containers[0])
	if _, err := n.client.CoreV1().Pods("default").Update(context.Background(), pod, metav1.UpdateOptions{}); err != nil {
		n.t.Fatal(err)
	}
}

func memLimit(s string) func(*corev1.Container) {
	return func(c *corev1.Container) { c.Resources.Limits[corev1.ResourceMemory] = resource.MustParse(s) }
}

func TestFakeRuntimeResizeInPlace(t *testing.T) {
	n := newFakeNode(t)
	n.k.machine = machineInfo{CPUs: 4, MemoryBytes: 8 << 30}
	n.add(resizePod("r", corev1.NotRequired))
	n.sync("r")
	n.sync("r")
	if got := n.called("UpdateContainerResources"); got != 0 {
		t.Fatalf("%d resizes of a container started with its spec's values", got)
	}
	if r := n.get("r").Status.ContainerStatuses[0].Resources; r == nil || r.Limits.Memory().String() != "64Mi" {
		t.Fatalf("status resources %v, want the 64Mi limit", r)
	}
	id := n.container("app").Id

	n.resizeTo("r", memLimit("128Mi"))
	n.sync("r")
	if got := n.called("UpdateContainerResources"); got != 1 {
		t.Errorf("UpdateContainerResources called %d times, want 1", got)
	}
	st := n.get("r").Status.ContainerStatuses[0]
	if st.Resources == nil || st.Resources.Limits.Memory().String() != "128Mi" || st.RestartCount != 0 || n.container("app").Id != id {
		t.Errorf("after the resize: resources %v, restarts %d, same container %v", st.Resources, st.RestartCount, n.container("app").Id == id)
	}
	if st.AllocatedResources.Memory().String() != "32Mi" {
		t.Errorf("allocatedResources %v, want the requests", st.AllocatedResources)
	}
	if !n.sawEvent("ResizeCompleted") {
		t.Error("no ResizeCompleted event")
	}
	n.sync("r")
	if got := n.called("UpdateContainerResources"); got != 1 {
		t.Errorf("a settled resize was applied again (%d calls)", got)
	}

	// More CPU than the node has: the resize waits, the container keeps what it has.
	n.resizeTo("r", func(c *corev1.Container) { c.Resources.Requests[corev1.ResourceCPU] = resource.MustParse("16") })
	n.sync("r")
	pod := n.get("r")
	if condition(pod, corev1.PodResizePending) != corev1.ConditionTrue || n.called("UpdateContainerResources") != 1 {
		t.Errorf("an infeasible resize: conditions %v, %d resizes", pod.Status.Conditions, n.called("UpdateContainerResources"))
	}
	if got := pod.Status.ContainerStatuses[0].Resources.Requests.Cpu().String(); got != "100m" {
		t.Errorf("status cpu request %s while the resize waits, want 100m", got)
	}
	n.resizeTo("r", func(c *corev1.Container) { c.Resources.Requests[corev1.ResourceCPU] = resource.MustParse("100m") })
	n.sync("r")
	if condition(n.get("r"), corev1.PodResizePending) != "" {
		t.Errorf("PodResizePending stayed after the resize was withdrawn: %v", n.get("r").Status.Conditions)
	}
}

func TestFakeRuntimeResizeRestartsWhenAsked(t *testing.T) {
	n := newFakeNode(t)
	n.k.machine = machineInfo{CPUs: 4, MemoryBytes: 8 << 30}
	n.add(resizePod("r", corev1.RestartContainer))
	n.sync("r")
	n.resizeTo("r", memLimit("128Mi"))
	n.sync("r")
	if n.called("StopContainer") != 1 || n.called("UpdateContainerResources") != 0 {
		t.Errorf("stops %d, in-place resizes %d: want the container restarted, not resized", n.called("StopContainer"), n.called("UpdateContainerResources"))
	}
}
