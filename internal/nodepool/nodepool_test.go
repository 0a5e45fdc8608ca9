package nodepool

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct{ spec, err string }{
		{spec: "name=big,cpu=8,memory=32Gi,pods=110,min=1,max=20,labels=a=b;c=d,taints=k=v:NoSchedule"},
		{spec: "name=big,cpu=8,memory=32Gi,min=5,max=2", err: "min 5 is greater than max 2"},
		{spec: "name=big,cpu=8,memory=32Gi,min=-1,max=2", err: "must not be negative"},
		{spec: "name=big,cpu=8,memory=32Gi", err: "max is required"},
		{spec: "name=big,memory=32Gi,max=2", err: "cpu must be set"},
		{spec: "name=Big!,cpu=1,memory=1Gi,max=2", err: "pool name"},
		{spec: "name=big,cpu=1,memory=1Gi,max=2,colour=red", err: "unknown key"},
		{spec: "name=big,cpu=1,memory=1Gi,max=2,taints=k:Sometimes", err: "effect must be"},
	} {
		p, err := Parse(tc.spec)
		if tc.err == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.spec, err)
				continue
			}
			n := p.Template("big-0")
			if n.Labels["a"] != "b" || n.Labels[Label] != "big" || len(n.Spec.Taints) != 1 || n.Status.Allocatable.Cpu().Value() != 8 {
				t.Errorf("%s: template %+v", tc.spec, n)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: got %v, want an error with %q", tc.spec, err, tc.err)
		}
	}
}
