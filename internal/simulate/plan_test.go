package simulate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const planManifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 10
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: nginx, resources: {limits: {cpu: "1", memory: 1Gi}}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
---
apiVersion: v1
kind: Pod
metadata: {name: giant}
spec:
  containers: [{name: c, image: x, resources: {requests: {cpu: "64"}}}]
`

// TestPlan: ten 1-CPU pods (requests defaulted from limits) need five 2-CPU nodes;
// a 64-CPU pod fits no pool and says why.
func TestPlan(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(planManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := Plan(context.Background(), &out, []string{"-f", dir, "--pool", "name=small,cpu=2,memory=8Gi,min=0,max=10"})
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"small  5      0    10", "11 pods; 1 fit no pool", "default/giant: ", "Insufficient cpu"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if err := Plan(context.Background(), &out, []string{"-f", dir, "--pool", "name=x,cpu=1,memory=1Gi,min=3,max=2"}); err == nil ||
		!strings.Contains(err.Error(), "min 3 is greater than max 2") {
		t.Errorf("a pool with min > max: %v", err)
	}
}
