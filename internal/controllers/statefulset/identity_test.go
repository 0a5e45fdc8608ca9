package statefulset

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestOrdinalOf(t *testing.T) {
	set := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "web"}}
	for name, want := range map[string]int{"web-0": 0, "web-12": 12, "web-": -1, "web-01": -1, "webx-1": -1, "web-a": -1, "web-1-2": -1} {
		if got := ordinalOf(set, name); got != want {
			t.Errorf("ordinalOf(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestSlotsAndUseCurrent(t *testing.T) {
	three, part := int32(3), int32(2)
	set := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.StatefulSetSpec{Replicas: &three,
		UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: &part}}}}
	var pods []*corev1.Pod
	for _, n := range []string{"web-4", "web-0", "web-2", "web-3"} {
		pods = append(pods, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: n}})
	}
	want, condemned := slots(set, pods)
	if want[0] == nil || want[1] != nil || want[2] == nil {
		t.Errorf("slots %v", want)
	}
	if len(condemned) != 2 || condemned[0].Name != "web-4" || condemned[1].Name != "web-3" {
		t.Errorf("condemned should be highest first: %v", condemned)
	}
	if !useCurrent(set, 1) || useCurrent(set, 2) {
		t.Error("ordinals below the partition keep the current revision; the rest update")
	}
}

func TestNewPodIdentity(t *testing.T) {
	set := mongo(3)
	set.UID = "uid"
	pod := newPod(set, &set.Spec.Template, "mongodb-abc", 2)
	if pod.Name != "mongodb-2" || pod.Spec.Hostname != "mongodb-2" || pod.Spec.Subdomain != "mongodb" ||
		pod.Labels[podNameLabel] != "mongodb-2" || pod.Labels[podIndexLabel] != "2" || pod.Labels[revisionLabel] != "mongodb-abc" {
		t.Errorf("identity: %+v", pod.ObjectMeta)
	}
	if v := pod.Spec.Volumes; len(v) != 1 || v[0].PersistentVolumeClaim.ClaimName != "data-mongodb-2" {
		t.Errorf("volumes %+v", v)
	}
	claims := newClaims(set, 2)
	if len(claims) != 1 || claims[0].Name != "data-mongodb-2" || claims[0].Labels["app"] != "mongodb" {
		t.Errorf("claims %+v", claims)
	}
}
