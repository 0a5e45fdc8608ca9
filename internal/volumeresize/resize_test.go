package volumeresize

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func claim(request, capacity string, st corev1.ClaimResourceStatus, allocated string) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{
		Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(request)}}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
			Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(capacity)}},
	}
	if st != "" {
		pvc.Status.AllocatedResourceStatuses = map[corev1.ResourceName]corev1.ClaimResourceStatus{corev1.ResourceStorage: st}
	}
	if allocated != "" {
		pvc.Status.AllocatedResources = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(allocated)}
	}
	return pvc
}

func TestControllerPending(t *testing.T) {
	for _, tc := range []struct {
		name string
		pvc  *corev1.PersistentVolumeClaim
		want bool
	}{
		{"same size", claim("1Gi", "1Gi", "", ""), false},
		{"grown", claim("2Gi", "1Gi", "", ""), true},
		{"in progress is retried", claim("2Gi", "1Gi", corev1.PersistentVolumeClaimControllerResizeInProgress, "2Gi"), true},
		{"node pending", claim("2Gi", "1Gi", corev1.PersistentVolumeClaimNodeResizePending, "2Gi"), false},
		{"node pending, asked for more since", claim("3Gi", "1Gi", corev1.PersistentVolumeClaimNodeResizePending, "2Gi"), true},
		{"infeasible", claim("2Gi", "1Gi", corev1.PersistentVolumeClaimControllerResizeInfeasible, "2Gi"), false},
		{"infeasible, then another size", claim("3Gi", "1Gi", corev1.PersistentVolumeClaimControllerResizeInfeasible, "2Gi"), true},
	} {
		if _, got := ControllerPending(tc.pvc); got != tc.want {
			t.Errorf("%s: ControllerPending = %v, want %v", tc.name, got, tc.want)
		}
	}
	unbound := claim("2Gi", "1Gi", "", "")
	unbound.Status.Phase = corev1.ClaimPending
	if _, got := ControllerPending(unbound); got {
		t.Error("an unbound claim is pending expansion")
	}
}

func TestExpansionSteps(t *testing.T) {
	pvc := claim("2Gi", "1Gi", "", "")
	pvc.Status.Conditions = []corev1.PersistentVolumeClaimCondition{{Type: "Other", Status: corev1.ConditionTrue}}
	want, _ := ControllerPending(pvc)

	started := StartController(pvc, want)
	if s := status(started); s != corev1.PersistentVolumeClaimControllerResizeInProgress {
		t.Fatalf("started: status %q", s)
	}
	if a := started.Status.AllocatedResources[corev1.ResourceStorage]; a.Cmp(want) != 0 {
		t.Errorf("allocatedResources = %s, want %s", a.String(), want.String())
	}
	if status(pvc) != "" {
		t.Error("StartController changed its argument")
	}

	node := ControllerDone(started, want, true)
	if !NodePending(node) || len(node.Status.Conditions) != 2 || node.Status.Conditions[1].Type != corev1.PersistentVolumeClaimFileSystemResizePending {
		t.Fatalf("after the controller: %+v", node.Status)
	}
	if _, again := ControllerPending(node); again {
		t.Error("the controller would expand again while the node is pending")
	}
	failed := NodeFailed(StartNode(node), "boom")
	if !NodePending(failed) || failed.Status.Conditions[1].Type != corev1.PersistentVolumeClaimNodeResizeError {
		t.Errorf("after a node error: %+v", failed.Status)
	}

	done := Finish(failed, want)
	if c := done.Status.Capacity[corev1.ResourceStorage]; c.Cmp(want) != 0 {
		t.Errorf("capacity = %s", c.String())
	}
	if done.Status.AllocatedResourceStatuses != nil || len(done.Status.Conditions) != 1 || done.Status.Conditions[0].Type != "Other" {
		t.Errorf("done: %+v", done.Status)
	}
	if _, again := ControllerPending(done); again || NodePending(done) {
		t.Error("a finished expansion is still pending")
	}

	bad := ControllerFailed(started, "out of range", true)
	if status(bad) != corev1.PersistentVolumeClaimControllerResizeInfeasible {
		t.Errorf("final failure: %+v", bad.Status)
	}
	if _, again := ControllerPending(bad); again {
		t.Error("an infeasible size is retried")
	}
}
