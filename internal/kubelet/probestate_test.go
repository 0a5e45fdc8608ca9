package kubelet

import "testing"

func TestProbeStateObserve(t *testing.T) {
	tests := []struct {
		name        string
		kind        probeKind
		succ, fail  int32
		results     []bool
		wantOK      []bool
		wantChanged []bool
	}{
		{name: "liveness flips after three failures", kind: probeLiveness, succ: 1, fail: 3,
			results: []bool{false, false, false, false}, wantOK: []bool{true, true, false, false},
			wantChanged: []bool{false, false, true, false}},
		{name: "a success resets the failure run", kind: probeLiveness, succ: 1, fail: 2,
			results: []bool{false, true, false, false}, wantOK: []bool{true, true, true, false},
			wantChanged: []bool{false, false, false, true}},
		{name: "readiness starts unready and needs the success threshold", kind: probeReadiness, succ: 2, fail: 3,
			results: []bool{true, true, false, true}, wantOK: []bool{false, true, true, true},
			wantChanged: []bool{false, true, false, false}},
		{name: "readiness falls after failure threshold and recovers", kind: probeReadiness, succ: 1, fail: 1,
			results: []bool{true, false, true}, wantOK: []bool{true, false, true},
			wantChanged: []bool{true, true, true}},
		{name: "startup fails after the failure threshold", kind: probeStartup, succ: 1, fail: 3,
			results: []bool{false, false, false}, wantOK: []bool{false, false, false},
			wantChanged: []bool{false, false, true}},
		{name: "readiness failures while unready change nothing", kind: probeReadiness, succ: 1, fail: 1,
			results: []bool{false, false}, wantOK: []bool{false, false},
			wantChanged: []bool{false, false}},
		{name: "zero thresholds count as one", kind: probeReadiness, succ: 0, fail: 0,
			results: []bool{false, true}, wantOK: []bool{false, true},
			wantChanged: []bool{false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := initialProbeState(tt.kind)
			for i, r := range tt.results {
				var changed bool
				s, changed = s.observe(r, tt.succ, tt.fail)
				if s.OK != tt.wantOK[i] || changed != tt.wantChanged[i] {
					t.Fatalf("after result %d (%v): ok=%v changed=%v, want ok=%v changed=%v",
						i, r, s.OK, changed, tt.wantOK[i], tt.wantChanged[i])
				}
			}
		})
	}
}
