package resources

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
)

const jobUID = "0e3c5b39-3bd1-4a4f-9f5b-2c2b1b7d7d11"

// newJob returns a Job as the API server holds it before Default: uid already set.
func newJob(t *testing.T, doc string) *batchv1.Job {
	j := mustYAML[batchv1.Job](t, doc)
	j.UID = jobUID
	return j
}

func TestJobDefaults(t *testing.T) {
	// The seed's db-migration Job.
	job := newJob(t, `
metadata: {name: db-migration, namespace: default}
spec:
  template:
    spec:
      containers:
      - name: migrate
        image: app:migrate
        command: ["/bin/sh", "-c", "alembic upgrade head"]
      restartPolicy: Never
`)
	if errs := create(jobStrategy{}, job); len(errs) > 0 {
		t.Fatalf("valid job rejected: %v", errs)
	}
	want := mustYAML[batchv1.Job](t, `
metadata:
  name: db-migration
  namespace: default
  uid: `+jobUID+`
  labels: &labels
    batch.kubernetes.io/controller-uid: `+jobUID+`
    batch.kubernetes.io/job-name: db-migration
    controller-uid: `+jobUID+`
    job-name: db-migration
spec:
  backoffLimit: 6
  completionMode: NonIndexed
  completions: 1
  manualSelector: false
  parallelism: 1
  podReplacementPolicy: TerminatingOrFailed
  selector:
    matchLabels:
      batch.kubernetes.io/controller-uid: `+jobUID+`
  suspend: false
  template:
    metadata:
      labels: *labels
    spec:
      containers:
      - name: migrate
        image: app:migrate
        command: ["/bin/sh", "-c", "alembic upgrade head"]
        imagePullPolicy: IfNotPresent
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Never
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
`)
	if d := cmp.Diff(want, job); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}
}

func TestJobParallelismDefaults(t *testing.T) {
	job := newJob(t, `{metadata: {name: j, namespace: d}, spec: {parallelism: 3, template: {spec: {restartPolicy: Never, containers: [{name: a, image: x}]}}}}`)
	jobStrategy{}.Default(job)
	// A work queue: parallel pods, no fixed completion count.
	if job.Spec.Completions != nil || *job.Spec.Parallelism != 3 {
		t.Errorf("completions %v parallelism %v", job.Spec.Completions, *job.Spec.Parallelism)
	}
}

func TestJobValidation(t *testing.T) {
	const base = `{metadata: {name: pi, namespace: default}, spec: {template: {spec: {restartPolicy: OnFailure, containers: [{name: pi, image: perl}]}}}}`
	tests := []struct {
		name   string
		mutate func(*batchv1.Job)
		want   []string
	}{
		{"valid", func(*batchv1.Job) {}, []string{}},
		{"restartPolicy defaults to Always, which a Job cannot use", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" },
			[]string{"spec.template.spec.restartPolicy: FieldValueNotSupported"}},
		{"negative parallelism", func(j *batchv1.Job) { j.Spec.Parallelism = podPtr(int32(-1)) },
			[]string{"spec.parallelism: FieldValueInvalid"}},
		{"indexed needs completions", func(j *batchv1.Job) {
			j.Spec.CompletionMode = podPtr(batchv1.IndexedCompletion)
			j.Spec.Parallelism = podPtr(int32(2))
		}, []string{"spec.completions: FieldValueRequired"}},
		{"manual selector must match", func(j *batchv1.Job) {
			j.Spec.ManualSelector = podPtr(true)
			j.Spec.Selector = mustYAML[batchv1.JobSpec](t, `{selector: {matchLabels: {app: x}}}`).Selector
		}, []string{"spec.template.metadata.labels: FieldValueInvalid"}},
		{"generated label overridden", func(j *batchv1.Job) {
			j.Spec.Template.Labels = map[string]string{"controller-uid": "someone-else"}
		}, []string{"spec.template.metadata.labels[controller-uid]: FieldValueInvalid"}},
		{"name too long for the job-name label", func(j *batchv1.Job) { j.Name = strings.Repeat("a", 64) },
			[]string{"spec.template.labels: FieldValueInvalid", "spec.template.labels: FieldValueInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := newJob(t, base)
			tt.mutate(job)
			errs := create(jobStrategy{}, job)
			if d := cmp.Diff(tt.want, errKeys(errs)); d != "" {
				t.Errorf("errors (-want +got):\n%s\nall: %v", d, errs)
			}
		})
	}
}

func TestJobUpdate(t *testing.T) {
	const base = `{metadata: {name: pi, namespace: default, resourceVersion: "3"}, spec: {template: {spec: {restartPolicy: Never, containers: [{name: pi, image: perl}]}}}}`
	tests := []struct {
		name    string
		suspend bool
		mutate  func(*batchv1.Job)
		want    []string
	}{
		{"parallelism may change", false, func(j *batchv1.Job) { j.Spec.Parallelism = podPtr(int32(4)) }, []string{}},
		{"template is immutable", false, func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5" },
			[]string{"spec.template: FieldValueInvalid"}},
		{"completions are immutable", false, func(j *batchv1.Job) { j.Spec.Completions = podPtr(int32(3)) },
			[]string{"spec.completions: FieldValueInvalid"}},
		{"selector is immutable", false, func(j *batchv1.Job) { j.Spec.Selector.MatchLabels["x"] = "y" },
			[]string{"spec.selector: FieldValueInvalid", "spec.template.metadata.labels: FieldValueInvalid"}},
		{"suspended job may be re-targeted", true, func(j *batchv1.Job) {
			j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"}
		}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := newJob(t, base)
			old.Spec.Suspend = podPtr(tt.suspend)
			if errs := create(jobStrategy{}, old); len(errs) > 0 {
				t.Fatal(errs)
			}
			job := old.DeepCopy()
			tt.mutate(job)
			s := jobStrategy{}
			s.Default(job)
			s.PrepareForUpdate(job, old, "")
			errs := s.Validate(job, old)
			if d := cmp.Diff(tt.want, errKeys(errs)); d != "" {
				t.Errorf("errors (-want +got):\n%s\nall: %v", d, errs)
			}
		})
	}
}

func TestCronJobDefaults(t *testing.T) {
	cj := mustYAML[batchv1.CronJob](t, `
metadata: {name: hello, namespace: default}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: hello, image: "busybox:1.36", command: [date]}]
          restartPolicy: OnFailure
`)
	if errs := create(cronJobStrategy{}, cj); len(errs) > 0 {
		t.Fatalf("valid cronjob rejected: %v", errs)
	}
	// The job template gets pod defaults only; Job defaults come when Jobs are made.
	want := mustYAML[batchv1.CronJob](t, `
metadata: {name: hello, namespace: default}
spec:
  concurrencyPolicy: Allow
  failedJobsHistoryLimit: 1
  schedule: "*/5 * * * *"
  successfulJobsHistoryLimit: 3
  suspend: false
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: hello
            image: "busybox:1.36"
            command: [date]
            imagePullPolicy: IfNotPresent
            resources: {}
            terminationMessagePath: /dev/termination-log
            terminationMessagePolicy: File
          dnsPolicy: ClusterFirst
          restartPolicy: OnFailure
          schedulerName: default-scheduler
          securityContext: {}
          terminationGracePeriodSeconds: 30
`)
	if d := cmp.Diff(want, cj); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}
}

func TestCronJobValidation(t *testing.T) {
	const base = `{metadata: {name: hello, namespace: default}, spec: {schedule: "0 * * * *", jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: a, image: x}]}}}}}}`
	tests := []struct {
		name   string
		mutate func(*batchv1.CronJob)
		want   []string
	}{
		{"valid", func(*batchv1.CronJob) {}, []string{}},
		{"name too long", func(c *batchv1.CronJob) { c.Name = strings.Repeat("a", 53) }, []string{"metadata.name: FieldValueInvalid"}},
		{"no schedule", func(c *batchv1.CronJob) { c.Spec.Schedule = "" }, []string{"spec.schedule: FieldValueRequired"}},
		{"bad schedule", func(c *batchv1.CronJob) { c.Spec.Schedule = "61 * * * *" }, []string{"spec.schedule: FieldValueInvalid"}},
		{"TZ in schedule", func(c *batchv1.CronJob) { c.Spec.Schedule = "TZ=UTC 0 * * * *" }, []string{"spec.schedule: FieldValueInvalid"}},
		{"time zone", func(c *batchv1.CronJob) { c.Spec.TimeZone = podPtr("Europe/Atlantis") }, []string{"spec.timeZone: FieldValueInvalid"}},
		{"valid time zone", func(c *batchv1.CronJob) { c.Spec.TimeZone = podPtr("America/New_York") }, []string{}},
		{"concurrency policy", func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = "Sometimes" },
			[]string{"spec.concurrencyPolicy: FieldValueNotSupported"}},
		{"job template restart policy", func(c *batchv1.CronJob) { c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = "Always" },
			[]string{"spec.jobTemplate.spec.template.spec.restartPolicy: FieldValueNotSupported"}},
		{"selector in job template", func(c *batchv1.CronJob) {
			c.Spec.JobTemplate.Spec.Selector = mustYAML[batchv1.JobSpec](t, `{selector: {matchLabels: {a: b}}}`).Selector
		}, []string{"spec.jobTemplate.spec.selector: FieldValueInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cj := mustYAML[batchv1.CronJob](t, base)
			tt.mutate(cj)
			errs := create(cronJobStrategy{}, cj)
			if d := cmp.Diff(tt.want, errKeys(errs)); d != "" {
				t.Errorf("errors (-want +got):\n%s\nall: %v", d, errs)
			}
		})
	}
}

// TestCronSchedule: the API's answer for a schedule, with the parser's message.
func TestCronSchedule(t *testing.T) {
	const base = `{metadata: {name: hello, namespace: default}, spec: {schedule: "0 * * * *", jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: a, image: x}]}}}}}}`
	tests := []struct {
		schedule string
		want     string // "" for valid
	}{
		{"* * * * *", ""},
		{"*/15 9-17 * * MON-FRI", ""},
		{"0 0 1,15 jan,jul ?", ""},
		{"5/10 * * * *", ""},
		{"@daily", ""},
		{"@every 1h30m", ""},
		{"* * * *", "expected exactly 5 fields, found 4: [* * * *]"},
		{"@fortnightly", "unrecognized descriptor: @fortnightly"},
		{"60 * * * *", "end of range (60) above maximum (59): 60"},
		{"* * 0 * *", "beginning of range (0) below minimum (1): 0"},
		{"5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"},
		{"x * * * *", `failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax`},
		{"* * * * 7", "end of range (7) above maximum (6): 7"},
	}
	for _, tt := range tests {
		t.Run(tt.schedule, func(t *testing.T) {
			cj := mustYAML[batchv1.CronJob](t, base)
			cj.Spec.Schedule = tt.schedule
			got := ""
			if errs := create(cronJobStrategy{}, cj); len(errs) > 0 {
				got = errs[0].Detail
			}
			if got != tt.want {
				t.Errorf("schedule %q: %q, want %q", tt.schedule, got, tt.want)
			}
		})
	}
}
