package kubelet

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestStatusManagerPut(t *testing.T) {
	tests := []struct {
		name       string
		conflicts  int // UpdateStatus calls answered with a conflict first
		same       bool
		wantWrites int
		wantPhase  corev1.PodPhase
	}{
		{name: "writes a changed status", wantWrites: 1, wantPhase: corev1.PodRunning},
		{name: "skips an unchanged status", same: true, wantWrites: 0, wantPhase: corev1.PodPending},
		{name: "rewrites over the API's copy on a conflict", conflicts: 1, wantWrites: 2, wantPhase: corev1.PodRunning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u"},
				Status: corev1.PodStatus{Phase: corev1.PodPending}}
			client := fake.NewClientset(pod)
			writes, conflicts := 0, tt.conflicts
			client.PrependReactor("update", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if a.GetSubresource() != "status" {
					return false, nil, nil
				}
				writes++
				if conflicts > 0 {
					conflicts--
					return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, "p", nil)
				}
				return false, nil, nil
			})
			m := newStatusManager(client)
			st := corev1.PodStatus{Phase: corev1.PodRunning}
			if tt.same {
				st = pod.Status
			}
			if _, err := m.put(context.Background(), pod, st); err != nil {
				t.Fatal(err)
			}
			got, _ := client.CoreV1().Pods("default").Get(context.Background(), "p", metav1.GetOptions{})
			if writes != tt.wantWrites || got.Status.Phase != tt.wantPhase {
				t.Fatalf("%d writes, phase %s; want %d, %s", writes, got.Status.Phase, tt.wantWrites, tt.wantPhase)
			}
			if w := m.latest[pod.UID]; tt.wantWrites > 0 && (w == nil || w.Status.Phase != corev1.PodRunning) {
				t.Fatalf("remembered %v; want the written status", w)
			}
		})
	}
}

func TestStatusManagerNewest(t *testing.T) {
	at := func(rv string, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "u", ResourceVersion: rv}, Status: corev1.PodStatus{Phase: phase}}
	}
	tests := []struct {
		name     string
		informer *corev1.Pod
		written  *corev1.Pod
		want     corev1.PodPhase
	}{
		{name: "nothing written", informer: at("5", corev1.PodPending), want: corev1.PodPending},
		{name: "the informer lags", informer: at("5", corev1.PodPending), written: at("6", corev1.PodRunning), want: corev1.PodRunning},
		{name: "the informer caught up", informer: at("7", corev1.PodSucceeded), written: at("6", corev1.PodRunning), want: corev1.PodSucceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newStatusManager(fake.NewClientset())
			if tt.written != nil {
				m.latest["u"] = tt.written
			}
			if got := m.newest(tt.informer).Status.Phase; got != tt.want {
				t.Fatalf("newest = %s; want %s", got, tt.want)
			}
			m.forget("u")
			if m.newest(tt.informer) != tt.informer {
				t.Fatal("a forgotten pod still has a remembered status")
			}
		})
	}
}
