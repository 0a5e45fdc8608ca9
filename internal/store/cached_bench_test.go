package store

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rt "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	clientscheme "k8s.io/client-go/kubernetes/scheme"
)

// BenchmarkCachedPodSize: the heap a running pod (as admission, the scheduler
// and a kubelet leave it) takes in the watch cache as its encoded bytes, which
// the cache keeps, against decoded, which it kept before; and the cost of
// decoding it when a list or a cold read needs it.
func BenchmarkCachedPodSize(b *testing.B) {
	proto := protobuf.NewSerializer(clientscheme.Scheme, clientscheme.Scheme)
	var buf bytes.Buffer
	enc := rt.WithVersionEncoder{Version: corev1.SchemeGroupVersion, Encoder: proto, ObjectTyper: clientscheme.Scheme}
	if err := enc.Encode(runningPod(), &buf); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	const n = 2000
	decoded := heapOf(func() any {
		objs := make([]rt.Object, n)
		for i := range objs {
			objs[i], _, _ = proto.Decode(data, nil, nil)
		}
		return objs
	})
	encoded := heapOf(func() any {
		kept := make([][]byte, n)
		for i := range kept {
			kept[i] = bytes.Clone(data)
		}
		return kept
	})
	b.ResetTimer()
	for range b.N {
		if _, _, err := proto.Decode(data, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(decoded/n, "decoded-B/pod")
	b.ReportMetric(encoded/n, "encoded-B/pod")
}

// heapOf is how many bytes of heap what make returns holds.
func heapOf(make func() any) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	kept := make()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(kept)
	return float64(after.HeapAlloc) - float64(before.HeapAlloc)
}

func runningPod() *corev1.Pod {
	now := metav1.NewTime(time.Unix(1_800_000_000, 0))
	fields := func(s string) *metav1.FieldsV1 { return &metav1.FieldsV1{Raw: []byte(s)} }
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "p-12345", Namespace: "scale-7", UID: "0b3c2d4e-5f60-4718-92a3-b4c5d6e7f809",
			ResourceVersion: "123456", CreationTimestamp: now, Labels: map[string]string{"app": "a45"},
			ManagedFields: []metav1.ManagedFieldsEntry{
				{Manager: "scale.test", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &now, FieldsType: "FieldsV1",
					FieldsV1: fields(`{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:resources":{".":{},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}`)},
				{Manager: "skiff-agent", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &now, FieldsType: "FieldsV1", Subresource: "status",
					FieldsV1: fields(`{"f:status":{"f:conditions":{"k:{\"type\":\"ContainersReady\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Initialized\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Ready\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:phase":{},"f:podIP":{},"f:startTime":{}}}`)},
			},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: "skiff.local/toolbox:1", ImagePullPolicy: corev1.PullIfNotPresent,
				TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				Resources:    corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": resource.MustParse("10m"), "memory": resource.MustParse("16Mi")}},
				VolumeMounts: []corev1.VolumeMount{{Name: "kube-api-access-x7k2p", ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}}},
			Volumes: []corev1.Volume{{Name: "kube-api-access-x7k2p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr(int64(3607))}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
			}}}}},
			RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst, ServiceAccountName: "default", NodeName: "sim-node-1234",
			SchedulerName: "default-scheduler", TerminationGracePeriodSeconds: ptr(int64(30)), EnableServiceLinks: ptr(true),
			SecurityContext: &corev1.PodSecurityContext{}, Priority: ptr(int32(0)), PreemptionPolicy: ptr(corev1.PreemptLowerPriority),
			Tolerations: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))},
			},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, HostIP: "10.0.4.210", HostIPs: []corev1.HostIP{{IP: "10.0.4.210"}}, PodIP: "10.244.4.17", PodIPs: []corev1.PodIP{{IP: "10.244.4.17"}},
			StartTime: &now, QOSClass: corev1.PodQOSBurstable,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Ready: true, Started: ptr(true), Image: "skiff.local/toolbox:1", ImageID: "sha256:4f1c2b",
				ContainerID: "containerd://9a8b7c6d5e4f", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}},
		},
	}
}

func ptr[T any](v T) *T { return &v }
