package deployment

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEstimateProgress(t *testing.T) {
	now := time.Unix(1e9, 0)
	three, deadline := int32(3), int32(60)
	newRS := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-abc"}}
	progressing := func(reason string, age time.Duration) []appsv1.DeploymentCondition {
		c := newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reason, "", now.Add(-age))
		return []appsv1.DeploymentCondition{c}
	}
	tests := []struct {
		name       string
		old, cur   appsv1.DeploymentStatus
		wantReason string
		wantStatus corev1.ConditionStatus
	}{
		{"stalled past the deadline", appsv1.DeploymentStatus{UpdatedReplicas: 1, Conditions: progressing(reasonRSUpdated, 2*time.Minute)},
			appsv1.DeploymentStatus{UpdatedReplicas: 1}, reasonTimedOut, corev1.ConditionFalse},
		{"stalled within the deadline", appsv1.DeploymentStatus{UpdatedReplicas: 1, Conditions: progressing(reasonRSUpdated, 30*time.Second)},
			appsv1.DeploymentStatus{UpdatedReplicas: 1}, reasonRSUpdated, corev1.ConditionTrue},
		{"progress renews", appsv1.DeploymentStatus{UpdatedReplicas: 1, Conditions: progressing(reasonRSUpdated, 2*time.Minute)},
			appsv1.DeploymentStatus{UpdatedReplicas: 2}, reasonRSUpdated, corev1.ConditionTrue},
		{"complete", appsv1.DeploymentStatus{Conditions: progressing(reasonRSUpdated, 2*time.Minute)},
			appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}, reasonNewRSAvailable, corev1.ConditionTrue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: &three, ProgressDeadlineSeconds: &deadline}, Status: tt.old}
			dc := &dController{now: func() time.Time { return now }}
			st := tt.cur
			st.Conditions = append([]appsv1.DeploymentCondition(nil), tt.old.Conditions...)
			dc.estimateProgress(d, newRS, &st)
			c := getCondition(&st, appsv1.DeploymentProgressing)
			if c.Reason != tt.wantReason || c.Status != tt.wantStatus {
				t.Errorf("got %s/%s, want %s/%s", c.Status, c.Reason, tt.wantStatus, tt.wantReason)
			}
			if tt.name == "progress renews" && !c.LastUpdateTime.Time.Equal(now) {
				t.Errorf("progress did not renew the deadline: %v", c.LastUpdateTime)
			}
		})
	}
}
