package scheduler

import "testing"

func TestFitErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  FitError
		want string
	}{
		{"counts, most common first", FitError{NumAllNodes: 5, Reasons: map[string]int{
			"node(s) didn't match pod anti-affinity rules": 1,
			"Insufficient memory":                          2,
			"node(s) had untolerated taint {gpu: true}":    2,
		}, PostFilterMsg: "preemption: 0/5 nodes are available: 5 No preemption victims found for incoming pod."},
			"0/5 nodes are available: 2 Insufficient memory, 2 node(s) had untolerated taint {gpu: true}, " +
				"1 node(s) didn't match pod anti-affinity rules. preemption: 0/5 nodes are available: " +
				"5 No preemption victims found for incoming pod."},
		{"prefilter rejection", FitError{NumAllNodes: 3, PreFilterMsg: "pod has unbound immediate PersistentVolumeClaims",
			PostFilterMsg: preemptionNotHelpful(3)},
			"0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. " +
				"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."},
		{"no nodes", FitError{}, "no nodes available to schedule pods"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
