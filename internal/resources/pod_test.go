package resources

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

func storedPod(t *testing.T) *corev1.Pod {
	t.Helper()
	pod := mustYAML[corev1.Pod](t, `
metadata: {name: web, namespace: default, uid: u1, resourceVersion: "5"}
spec:
  activeDeadlineSeconds: 600
  containers: [{name: app, image: "nginx:1.25", ports: [{containerPort: 80}]}]
  initContainers: [{name: init, image: busybox}]
`)
	if errs := create(podStrategy{}, pod); len(errs) > 0 {
		t.Fatal(errs)
	}
	return pod
}

func TestPodUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"images may change", func(p *corev1.Pod) {
			p.Spec.Containers[0].Image = "nginx:1.26"
			p.Spec.InitContainers[0].Image = "busybox:1.36"
		}, []string{}},
		{"labels may change", func(p *corev1.Pod) { p.Labels = map[string]string{"a": "b"} }, []string{}},
		{"tolerations may be added", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "k", Operator: "Exists"})
		}, []string{}},
		{"tolerationSeconds may change", func(p *corev1.Pod) { p.Spec.Tolerations[0].TolerationSeconds = podPtr(int64(10)) }, []string{}},
		{"a default toleration left out comes back", func(p *corev1.Pod) { p.Spec.Tolerations = p.Spec.Tolerations[:1] }, []string{}},
		{"tolerations replaced by a new one keep the defaults", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "foo", Operator: "Equal", Value: "bar", Effect: corev1.TaintEffectNoSchedule}}
		}, []string{}},
		{"tolerations may not be modified", func(p *corev1.Pod) {
			p.Spec.Tolerations[0].Operator, p.Spec.Tolerations[0].Value = corev1.TolerationOpEqual, "x"
		},
			[]string{"spec.tolerations: FieldValueForbidden"}},
		{"deadline may shrink", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = podPtr(int64(60)) }, []string{}},
		{"deadline may not grow", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = podPtr(int64(6000)) },
			[]string{"spec.activeDeadlineSeconds: FieldValueInvalid"}},
		{"deadline may not be removed", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = nil },
			[]string{"spec.activeDeadlineSeconds: FieldValueInvalid"}},
		{"ports are immutable", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 8080 },
			[]string{"spec: FieldValueForbidden"}},
		{"nodeName only through binding", func(p *corev1.Pod) { p.Spec.NodeName = "node1" },
			[]string{"spec: FieldValueForbidden"}},
		{"image may not be emptied", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" },
			[]string{"spec.containers[0].image: FieldValueRequired"}},
		{"name is immutable", func(p *corev1.Pod) { p.Name = "other" }, []string{"metadata.name: FieldValueInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := storedPod(t)
			pod := old.DeepCopy()
			tt.mutate(pod)
			s := podStrategy{}
			s.Default(pod)
			s.PrepareForUpdate(pod, old, "")
			errs := s.Validate(pod, old)
			if d := cmp.Diff(tt.want, errKeys(errs)); d != "" {
				t.Errorf("errors (-want +got):\n%s\nall: %v", d, errs)
			}
		})
	}
}

func TestPodUpdateMessage(t *testing.T) {
	old := storedPod(t)
	pod := old.DeepCopy()
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	errs := podStrategy{}.Validate(pod, old)
	if len(errs) != 1 {
		t.Fatalf("want one error, got %v", errs)
	}
	msg := errs[0].Error()
	prefix := "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`," +
		"`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` " +
		"(allow it to be set to 1 if it was previously negative)\n"
	if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, "RestartPolicy") {
		t.Errorf("message:\n%s", msg)
	}
}

func TestPodStatusSplit(t *testing.T) {
	old := storedPod(t)
	s := podStrategy{}

	// A main update cannot write status.
	pod := old.DeepCopy()
	pod.Status.Phase = corev1.PodRunning
	s.PrepareForUpdate(pod, old, "")
	if pod.Status.Phase != corev1.PodPending {
		t.Errorf("main update changed status: %v", pod.Status.Phase)
	}

	// A status update cannot write spec, and keeps the QoS class it omits.
	pod = old.DeepCopy()
	pod.Spec.Containers[0].Image = "evil"
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.5"}
	s.PrepareForUpdate(pod, old, "status")
	if pod.Spec.Containers[0].Image != "nginx:1.25" || pod.Status.Phase != corev1.PodRunning || pod.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("status update: spec %v status %+v", pod.Spec.Containers[0].Image, pod.Status)
	}
	if errs := s.Validate(pod, old); len(errs) > 0 {
		t.Errorf("status update rejected: %v", errs)
	}
}

func TestPodFields(t *testing.T) {
	pod := storedPod(t)
	pod.Spec.NodeName = "node1"
	pod.Status.PodIPs = []corev1.PodIP{{IP: "10.1.0.4"}}
	want := fields.Set{
		"metadata.name": "web", "metadata.namespace": "default", "spec.nodeName": "node1",
		"spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler", "spec.serviceAccountName": "default",
		"spec.hostNetwork": "false", "status.phase": "Pending", "status.podIP": "10.1.0.4", "status.nominatedNodeName": "",
	}
	if d := cmp.Diff(want, podStrategy{}.Fields(pod)); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
}

func TestBindPod(t *testing.T) {
	now := metav1.Now()
	pod := storedPod(t)
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: map[string]string{"a": "b"}},
		Target: corev1.ObjectReference{Kind: "Node", Name: "node1"}}
	if err := BindPod(pod, b, now); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.NodeName != "node1" || pod.Annotations["a"] != "b" || len(pod.Status.Conditions) != 1 ||
		pod.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Errorf("bound pod: %+v %+v", pod.Spec.NodeName, pod.Status.Conditions)
	}
	if err := BindPod(pod, b, now); !errors.Is(err, ErrPodAlreadyBound) {
		t.Errorf("second bind: %v", err)
	}
	if err := BindPod(storedPod(t), &corev1.Binding{}, now); err == nil || !strings.Contains(err.Error(), "target.name: Required value") {
		t.Errorf("bind without target: %v", err)
	}
}

func TestPodDefaultTolerationsRespectExisting(t *testing.T) {
	got := podDefaultTolerations([]corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: "Exists", Effect: "NoExecute"}})
	if len(got) != 2 || got[1].Key != corev1.TaintNodeUnreachable {
		t.Errorf("tolerations: %+v", got)
	}
}
