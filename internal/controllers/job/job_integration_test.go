package job

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/workloads/fakekubelet"
	"skiff/internal/controllers/workloads/wltest"
)

// outcome: pods of jobs named bad* exit 1, policy* exit 42, odd* exit 1 at odd
// indexes, the rest succeed.
func outcome(p *corev1.Pod) fakekubelet.Outcome {
	name := p.Labels[batchv1.JobNameLabel]
	idx, _ := podIndex(p)
	switch {
	case strings.HasPrefix(name, "evict"):
		// The first pod of an index runs until evicted; its replacement succeeds.
		if _, again := evictSeen.LoadOrStore(name+"/"+strconv.Itoa(idx), true); !again {
			return fakekubelet.Outcome{Phase: corev1.PodRunning}
		}
		return fakekubelet.Outcome{Phase: corev1.PodSucceeded, Delay: 50 * time.Millisecond}
	case strings.HasPrefix(name, "odd") && idx%2 == 1:
		return fakekubelet.Outcome{Phase: corev1.PodFailed, ExitCode: 1, Delay: 50 * time.Millisecond}
	case strings.HasPrefix(name, "bad"):
		return fakekubelet.Outcome{Phase: corev1.PodFailed, ExitCode: 1, Delay: 50 * time.Millisecond}
	case strings.HasPrefix(name, "policy"):
		return fakekubelet.Outcome{Phase: corev1.PodFailed, ExitCode: 42, Delay: 50 * time.Millisecond}
	}
	return fakekubelet.Outcome{Phase: corev1.PodSucceeded, Delay: 200 * time.Millisecond}
}

var evictSeen sync.Map

func startJobs(t *testing.T) *wltest.Env {
	fast := func(c *controller.Context) *controller.Controller {
		return NewWithOptions(c, Options{BackoffBase: 50 * time.Millisecond, BackoffMax: time.Second})
	}
	return wltest.Start(t, wltest.Options{Outcome: outcome}, fast)
}

func newJob(name string, completions, parallelism, backoff int32) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{
			Completions: &completions, Parallelism: &parallelism, BackoffLimit: &backoff,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}},
		},
	}
}

func waitCondition(t *testing.T, env *wltest.Env, name string, ct batchv1.JobConditionType) *batchv1.Job {
	t.Helper()
	var job *batchv1.Job
	wltest.Eventually(t, 30*time.Second, func() (bool, string) {
		job, _ = env.Client.BatchV1().Jobs(env.NS).Get(env.Ctx, name, metav1.GetOptions{})
		return hasTrue(job, ct), fmt.Sprintf("%+v", job.Status)
	})
	return job
}

func jobPods(t *testing.T, env *wltest.Env, name string) []corev1.Pod {
	l, err := env.Client.CoreV1().Pods(env.NS).List(env.Ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + name})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range l.Items {
		if len(p.Finalizers) > 0 {
			t.Errorf("pod %s keeps finalizers %v after the job finished", p.Name, p.Finalizers)
		}
	}
	return l.Items
}

func TestJobCompletesWithParallelism(t *testing.T) {
	env := startJobs(t)
	if _, err := env.Client.BatchV1().Jobs(env.NS).Create(env.Ctx, newJob("ok", 5, 2, 6), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	maxActive := int32(0)
	wltest.Eventually(t, 30*time.Second, func() (bool, string) {
		job, _ := env.Client.BatchV1().Jobs(env.NS).Get(env.Ctx, "ok", metav1.GetOptions{})
		maxActive = max(maxActive, job.Status.Active)
		return hasTrue(job, batchv1.JobComplete), fmt.Sprintf("%+v", job.Status)
	})
	job := waitCondition(t, env, "ok", batchv1.JobComplete)
	if job.Status.Succeeded != 5 || job.Status.Failed != 0 || job.Status.CompletionTime == nil || !hasTrue(job, batchv1.JobSuccessCriteriaMet) {
		t.Errorf("status %+v", job.Status)
	}
	if maxActive > 2 {
		t.Errorf("%d pods active at once, parallelism is 2", maxActive)
	}
	if pods := jobPods(t, env, "ok"); len(pods) != 5 {
		t.Errorf("%d pods, want 5", len(pods))
	}
}

func TestJobStopsAtBackoffLimit(t *testing.T) {
	env := startJobs(t)
	if _, err := env.Client.BatchV1().Jobs(env.NS).Create(env.Ctx, newJob("bad", 1, 1, 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	job := waitCondition(t, env, "bad", batchv1.JobFailed)
	c := getCondition(job, batchv1.JobFailed)
	if c.Reason != reasonBackoffLimit || c.Message != msgBackoffLimit || !hasTrue(job, batchv1.JobFailureTarget) {
		t.Errorf("conditions %+v", job.Status.Conditions)
	}
	time.Sleep(300 * time.Millisecond) // no more retries may follow
	if pods := jobPods(t, env, "bad"); len(pods) != 3 || job.Status.Failed != 3 {
		t.Errorf("%d pods, failed %d; want 3 (backoffLimit 2 allows 2 retries)", len(pods), job.Status.Failed)
	}
}

func TestIndexedJobAndFailurePolicy(t *testing.T) {
	env := startJobs(t)
	j := newJob("indexed", 3, 3, 6)
	mode := batchv1.IndexedCompletion
	j.Spec.CompletionMode = &mode
	if _, err := env.Client.BatchV1().Jobs(env.NS).Create(env.Ctx, j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	job := waitCondition(t, env, "indexed", batchv1.JobComplete)
	if job.Status.CompletedIndexes != "0-2" || job.Status.Succeeded != 3 {
		t.Errorf("status %+v", job.Status)
	}
	hosts := map[string]bool{}
	for _, p := range jobPods(t, env, "indexed") {
		idx := p.Annotations[batchv1.JobCompletionIndexAnnotation]
		hosts[p.Spec.Hostname] = true
		env := p.Spec.Containers[0].Env
		if p.Spec.Hostname != "indexed-"+idx || len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" {
			t.Errorf("pod %s: hostname %q env %+v", p.Name, p.Spec.Hostname, env)
		}
	}
	if len(hosts) != 3 {
		t.Errorf("hostnames %v", hosts)
	}

	p := newJob("policy", 1, 1, 6)
	p.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action:      batchv1.PodFailurePolicyActionFailJob,
		OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}},
	}}}
	if _, err := env.Client.BatchV1().Jobs(env.NS).Create(env.Ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	job = waitCondition(t, env, "policy", batchv1.JobFailed)
	if c := getCondition(job, batchv1.JobFailed); c.Reason != reasonPolicy || job.Status.Failed != 1 {
		t.Errorf("want one failure by policy; status %+v", job.Status)
	}
}

func indexedJob(name string, completions, parallelism int32) *batchv1.Job {
	j := newJob(name, completions, parallelism, 6)
	j.Spec.BackoffLimit = nil
	j.Spec.CompletionMode = new(batchv1.IndexedCompletion)
	return j
}

// The conformance suite's Indexed Jobs with a failure limit per index and with
// success policies, end to end against the controller and a fake kubelet.
func TestIndexedJobPerIndexLimitsAndSuccessPolicy(t *testing.T) {
	env := startJobs(t)
	failIndex := indexedJob("odd-failindex", 2, 2)
	failIndex.Spec.BackoffLimitPerIndex = new(int32(1))
	failIndex.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action:      batchv1.PodFailurePolicyActionFailIndex,
		OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}},
	}}}
	maxFailed := indexedJob("bad-maxfailed", 4, 1)
	maxFailed.Spec.BackoffLimitPerIndex = new(int32(0))
	maxFailed.Spec.MaxFailedIndexes = new(int32(0))
	count := indexedJob("odd-count", 5, 2)
	count.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: new(int32(1))}}}
	set := indexedJob("odd-set", 5, 2)
	set.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: new("0")}}}
	perIndex := indexedJob("odd-perindex", 4, 2)
	perIndex.Spec.BackoffLimitPerIndex = new(int32(1))

	tests := []struct {
		job                        *batchv1.Job
		want                       batchv1.JobConditionType
		reason                     string
		completed, failedIdx       string
		minSucceeded, failed, pods int32
	}{
		{job: perIndex, want: batchv1.JobFailed, reason: reasonFailedIndexes, completed: "0,2", failedIdx: "1,3", minSucceeded: 2, failed: 4, pods: 6},
		{job: failIndex, want: batchv1.JobFailed, reason: reasonFailedIndexes, completed: "0", failedIdx: "1", minSucceeded: 1, failed: 1, pods: 2},
		{job: maxFailed, want: batchv1.JobFailed, reason: reasonMaxFailedIndexes, failedIdx: "0", failed: 1, pods: 1},
		{job: count, want: batchv1.JobComplete, reason: reasonSuccessPolicy, completed: "0", minSucceeded: 1, pods: -1},
		{job: set, want: batchv1.JobComplete, reason: reasonSuccessPolicy, completed: "0", minSucceeded: 1, pods: -1},
	}
	for _, tt := range tests {
		if _, err := env.Client.BatchV1().Jobs(env.NS).Create(env.Ctx, tt.job, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range tests {
		t.Run(tt.job.Name, func(t *testing.T) {
			job := waitCondition(t, env, tt.job.Name, tt.want)
			c := getCondition(job, tt.want)
			failedIdx := ""
			if job.Status.FailedIndexes != nil {
				failedIdx = *job.Status.FailedIndexes
			}
			if c.Reason != tt.reason || job.Status.CompletedIndexes != tt.completed || failedIdx != tt.failedIdx ||
				job.Status.Succeeded < tt.minSucceeded || (tt.want == batchv1.JobFailed && job.Status.Failed != tt.failed) {
				t.Errorf("%s %s; completed %q failed indexes %q succeeded %d failed %d; want %s, %q, %q, >=%d, %d",
					tt.want, c.Reason, job.Status.CompletedIndexes, failedIdx, job.Status.Succeeded, job.Status.Failed,
					tt.reason, tt.completed, tt.failedIdx, tt.minSucceeded, tt.failed)
			}
			if job.Status.Active != 0 {
				t.Errorf("%d pods still active", job.Status.Active)
			}
			pods := jobPods(t, env, tt.job.Name)
			if tt.pods >= 0 && int32(len(pods)) != tt.pods {
				t.Errorf("%d pods, want %d", len(pods), tt.pods)
			}
			if tt.job.Spec.BackoffLimitPerIndex != nil {
				// Each retry of an index says how often the index failed before.
				seen := map[string]map[string]bool{}
				for _, p := range pods {
					idx := p.Annotations[batchv1.JobCompletionIndexAnnotation]
					if seen[idx] == nil {
						seen[idx] = map[string]bool{}
					}
					seen[idx][p.Annotations[batchv1.JobIndexFailureCountAnnotation]] = true
				}
				if tt.job.Name == "odd-perindex" && (!seen["1"]["0"] || !seen["1"]["1"] || len(seen["0"]) != 1) {
					t.Errorf("failure counts per index %v, want index 1 at 0 then 1, index 0 once", seen)
				}
			}
		})
	}
}

// TestJobIgnoresEvictionsByPolicy is the conformance suite's case: pods evicted
// through the eviction API carry DisruptionTarget, and an Ignore rule on it keeps the
// evictions from counting against backoffLimit 0; the replacements complete the Job.
func TestJobIgnoresEvictionsByPolicy(t *testing.T) {
	env := startJobs(t)
	j := newJob("evict-ignore", 2, 2, 0)
	j.Spec.CompletionMode = new(batchv1.IndexedCompletion)
	j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action:          batchv1.PodFailurePolicyActionIgnore,
		OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
	}}}
	if _, err := env.Client.BatchV1().Jobs(env.NS).Create(env.Ctx, j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var running []corev1.Pod
	wltest.Eventually(t, 30*time.Second, func() (bool, string) {
		running = nil
		for _, p := range jobPodsNow(t, env, "evict-ignore") {
			if p.Status.Phase == corev1.PodRunning {
				running = append(running, p)
			}
		}
		return len(running) == 2, fmt.Sprintf("%d running", len(running))
	})
	for _, p := range running {
		ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}}
		if err := env.Client.CoreV1().Pods(env.NS).EvictV1(env.Ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	job := waitCondition(t, env, "evict-ignore", batchv1.JobComplete)
	if job.Status.Failed != 0 || job.Status.Succeeded != 2 {
		t.Errorf("failed %d succeeded %d, want the evictions ignored and 2 successes", job.Status.Failed, job.Status.Succeeded)
	}
}

func jobPodsNow(t *testing.T, env *wltest.Env, name string) []corev1.Pod {
	l, err := env.Client.CoreV1().Pods(env.NS).List(env.Ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + name})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}
