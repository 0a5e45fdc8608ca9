package cronjob

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/workloads/wltest"
)

// clock is real time shifted by an offset the test moves forward.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

func TestCronJobCreatesJobWhenDue(t *testing.T) {
	clk := &clock{}
	env := wltest.Start(t, wltest.Options{}, func(c *controller.Context) *controller.Controller {
		return NewWithOptions(c, Options{Now: clk.Now})
	})
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick"},
		Spec: batchv1.CronJobSpec{
			Schedule:          "*/1 * * * *",
			ConcurrencyPolicy: batchv1.ForbidConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure,
					Containers: []corev1.Container{{Name: "tick", Image: "busybox"}}}}}},
		},
	}
	cjc := env.Client.BatchV1().CronJobs(env.NS)
	if _, err := cjc.Create(env.Ctx, cj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poke := func() {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"poke":"%d"}}}`, time.Now().UnixNano())
		if _, err := cjc.Patch(env.Ctx, "tick", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	jobs := func() []batchv1.Job {
		l, err := env.Client.BatchV1().Jobs(env.NS).List(env.Ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return l.Items
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(jobs()); n != 0 {
		t.Fatalf("%d jobs before the schedule was due", n)
	}

	// Three minutes of downtime: one catch-up job, for the latest missed minute.
	clk.Advance(3 * time.Minute)
	poke()
	wltest.Eventually(t, 10*time.Second, func() (bool, string) {
		got, _ := cjc.Get(env.Ctx, "tick", metav1.GetOptions{})
		return len(jobs()) == 1 && len(got.Status.Active) == 1, fmt.Sprintf("%d jobs, status %+v", len(jobs()), got.Status)
	})
	j := jobs()[0]
	sched := clk.Now().Truncate(time.Minute)
	if want := "tick-" + strconv.FormatInt(sched.Unix()/60, 10); j.Name != want {
		t.Errorf("job %s, want %s", j.Name, want)
	}
	if ts := j.Annotations[ScheduledTimestampAnnotation]; ts != sched.In(time.Local).Format(time.RFC3339) {
		t.Errorf("scheduled timestamp %q, want %s", ts, sched.Format(time.RFC3339))
	}
	if ref := metav1.GetControllerOf(&j); ref == nil || ref.Kind != "CronJob" {
		t.Errorf("owner %+v", ref)
	}

	// Forbid: the first job never finishes here, so no second one starts.
	clk.Advance(time.Minute)
	poke()
	time.Sleep(500 * time.Millisecond)
	if n := len(jobs()); n != 1 {
		t.Errorf("Forbid: %d jobs while one is active", n)
	}

	// Replace: the active job goes, a new one comes.
	got, _ := cjc.Get(env.Ctx, "tick", metav1.GetOptions{})
	got.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent
	if _, err := cjc.Update(env.Ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wltest.Eventually(t, 10*time.Second, func() (bool, string) {
		var live []string
		for _, j := range jobs() {
			if j.DeletionTimestamp == nil {
				live = append(live, j.Name)
			}
		}
		want := "tick-" + strconv.FormatInt(clk.Now().Truncate(time.Minute).Unix()/60, 10)
		return len(live) == 1 && live[0] == want, fmt.Sprintf("live jobs %v, want [%s]", live, want)
	})
}
