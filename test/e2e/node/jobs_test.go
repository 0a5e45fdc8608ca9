package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

func TestJobsCompleteAndFail(t *testing.T) {
	n := ns(t, "jobs")
	manifest := `
apiVersion: batch/v1
kind: Job
metadata: {name: five}
spec:
  completions: 5
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: ` + toolbox + `, command: ["sh", "-c", "echo working; sleep 1"]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: doomed}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: ` + toolbox + `, command: ["sh", "-c", "exit 1"]}]
`
	if _, err := cluster.KubectlStdin(manifest, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	cluster.MustKubectl(t, "-n", n, "wait", "--for=condition=Complete", "job/five", "--timeout=120s")
	if s := cluster.MustKubectl(t, "-n", n, "get", "job", "five", "-o", "jsonpath={.status.succeeded}"); s != "5" {
		t.Errorf("succeeded = %s, want 5", s)
	}
	if out := cluster.MustKubectl(t, "-n", n, "get", "job", "five"); !strings.Contains(out, "5/5") {
		t.Errorf("kubectl get job:\n%s", out)
	}
	cluster.MustKubectl(t, "-n", n, "wait", "--for=condition=Failed", "job/doomed", "--timeout=120s")
	reason := cluster.MustKubectl(t, "-n", n, "get", "job", "doomed", "-o", `jsonpath={.status.conditions[?(@.type=="Failed")].reason}`)
	if reason != "BackoffLimitExceeded" {
		t.Errorf("failed job reason = %q", reason)
	}
	if pods := strings.Fields(cluster.MustKubectl(t, "-n", n, "get", "pods", "-l", "job-name=doomed", "-o", "name")); len(pods) != 2 {
		t.Errorf("backoffLimit 1 should give 2 pods, got %v", pods)
	}
	// Deleting a Job deletes its pods.
	cluster.MustKubectl(t, "-n", n, "delete", "job", "five")
	framework.Eventually(t, 60*time.Second, func() error {
		out, _ := cluster.Kubectl("-n", n, "get", "pods", "-l", "job-name=five", "-o", "name")
		if strings.TrimSpace(out) != "" {
			return fmt.Errorf("pods of a deleted job remain: %s", out)
		}
		return nil
	})
}

func TestCronJobCreatesAJobWithinAMinute(t *testing.T) {
	n := ns(t, "cron")
	cluster.MustKubectl(t, "-n", n, "create", "cronjob", "tick", "--image="+toolbox, "--schedule=*/1 * * * *", "--", "sh", "-c", "date")
	framework.Eventually(t, 100*time.Second, func() error {
		out, _ := cluster.Kubectl("-n", n, "get", "jobs", "-o", "name")
		if !strings.Contains(out, "job.batch/tick-") {
			return fmt.Errorf("no job from the cronjob yet")
		}
		return nil
	})
	if out := cluster.MustKubectl(t, "-n", n, "get", "cronjob", "tick"); !strings.Contains(out, "*/1 * * * *") {
		t.Errorf("kubectl get cronjob:\n%s", out)
	}
}
