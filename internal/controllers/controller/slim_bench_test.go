package controller

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// benchPod is the encoding of a pod as test/bench/scale leaves it: admitted
// (service account volume, default tolerations), bound, Running, with the
// managedFields of its creator and its kubelet.
func benchPod(b *testing.B, i int) []byte {
	now := metav1.NewTime(time.Unix(1700000000+int64(i), 0))
	fields := func(manager, json string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: "Update", APIVersion: "v1", Time: &now,
			FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(json)}}
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%d", i), Namespace: fmt.Sprintf("scale-%d", i%50),
			UID: types.UID(fmt.Sprintf("7374ab6b-b702-46dd-84cd-%012d", i)), ResourceVersion: fmt.Sprint(1000 + i),
			CreationTimestamp: now, Labels: map[string]string{"app": fmt.Sprintf("a%d", i%100)},
			ManagedFields: []metav1.ManagedFieldsEntry{
				fields("scale.test", `{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{},"f:name":{},"f:resources":{".":{},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}}}}}}`),
				fields("skiff-simulate", `{"f:status":{"f:conditions":{"k:{\"type\":\"Ready\"}":{".":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:phase":{},"f:podIP":{},"f:startTime":{}}}`)}},
		Spec: corev1.PodSpec{NodeName: fmt.Sprintf("sim-%d", i%5000), SchedulerName: "default-scheduler",
			ServiceAccountName: "default", DeprecatedServiceAccount: "default", RestartPolicy: corev1.RestartPolicyAlways,
			DNSPolicy: corev1.DNSClusterFirst, TerminationGracePeriodSeconds: ptr.To[int64](30), EnableServiceLinks: ptr.To(true),
			PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority), Priority: ptr.To[int32](0), SecurityContext: &corev1.PodSecurityContext{},
			Containers: []corev1.Container{{Name: "c", Image: "skiff.local/toolbox:1", ImagePullPolicy: corev1.PullIfNotPresent,
				TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				VolumeMounts: []corev1.VolumeMount{{Name: "kube-api-access-mvlr7", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}},
				Resources:    corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}}}},
			Tolerations: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: ptr.To[int64](300)},
				{Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: ptr.To[int64](300)}},
			Volumes: []corev1.Volume{{Name: "kube-api-access-mvlr7", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				DefaultMode: ptr.To[int32](420), Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](3607), Path: "token"}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}}}}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, QOSClass: corev1.PodQOSBurstable, HostIP: "172.16.0.1",
			HostIPs: []corev1.HostIP{{IP: "172.16.0.1"}}, PodIP: fmt.Sprintf("10.64.%d.%d", i/250%250, i%250), PodIPs: []corev1.PodIP{{IP: "10.64.1.2"}}, StartTime: &now,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Image: "skiff.local/toolbox:1", ImageID: "sim://skiff.local/toolbox:1",
				ContainerID: fmt.Sprintf("sim://7374ab6b-b702-46dd-84cd-%012d-c", i), Ready: true, Started: ptr.To(true),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}},
	}
	for _, t := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled} {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
	}
	data, err := p.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkSlimPodsHeld reports the heap an informer holds per pod (held-B/pod)
// as decoded, after slimming alone, and after SlimPods (slimming and sharing).
func BenchmarkSlimPodsHeld(b *testing.B) {
	const n = 20000
	encoded := make([][]byte, n)
	for i := range encoded {
		encoded[i] = benchPod(b, i)
	}
	for _, tc := range []struct {
		name      string
		transform func(*corev1.Pod)
	}{
		{"decoded", func(*corev1.Pod) {}},
		{"slim", func(p *corev1.Pod) { p.ManagedFields = nil; slimPod(p) }},
		{"SlimPods", func(p *corev1.Pod) { _, _ = SlimPods(p) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				held := make([]*corev1.Pod, n)
				before := heapAlloc()
				for i, data := range encoded {
					p := &corev1.Pod{}
					if err := p.Unmarshal(data); err != nil {
						b.Fatal(err)
					}
					tc.transform(p)
					held[i] = p
				}
				b.ReportMetric(float64(heapAlloc()-before)/n, "held-B/pod")
				runtime.KeepAlive(held)
			}
		})
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
