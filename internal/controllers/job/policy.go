package job

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// Pure rules of a Job: completed-index sets, pod failure policy, retry backoff.

// parseIndexes reads a completedIndexes string ("1,3-5") into sorted indexes below
// completions; anything malformed is skipped.
func parseIndexes(s string, completions int) []int {
	var out []int
	if s == "" {
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := a; i <= b && i < completions; i++ {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return dedupe(out)
}

func dedupe(xs []int) []int {
	var out []int
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// formatIndexes writes sorted, distinct indexes as ranges: 0,1,2,4 → "0-2,4".
func formatIndexes(xs []int) string {
	var parts []string
	for i := 0; i < len(xs); {
		j := i
		for j+1 < len(xs) && xs[j+1] == xs[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", xs[i], xs[j]))
		} else {
			parts = append(parts, strconv.Itoa(xs[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// addIndex returns the completedIndexes string with idx added.
func addIndex(s string, idx, completions int) string {
	xs := append(parseIndexes(s, completions), idx)
	sort.Ints(xs)
	return formatIndexes(dedupe(xs))
}

// matchFailurePolicy returns the action of the first rule that a failed pod matches,
// with the message Kubernetes gives for it, or nil if no rule matches.
func matchFailurePolicy(p *batchv1.PodFailurePolicy, pod *corev1.Pod) (*batchv1.PodFailurePolicyAction, string) {
	if p == nil {
		return nil, ""
	}
	for i, rule := range p.Rules {
		if rule.OnExitCodes != nil {
			if name, code, ok := exitCodeMatches(rule.OnExitCodes, pod); ok {
				return &p.Rules[i].Action, fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
					name, pod.Namespace, pod.Name, code, rule.Action, i)
			}
			continue
		}
		for _, pat := range rule.OnPodConditions {
			for _, c := range pod.Status.Conditions {
				if c.Type == pat.Type && c.Status == pat.Status {
					return &p.Rules[i].Action, fmt.Sprintf("Pod %s/%s has condition %s matching %s rule at index %d",
						pod.Namespace, pod.Name, pat.Type, rule.Action, i)
				}
			}
		}
	}
	return nil, ""
}

func exitCodeMatches(r *batchv1.PodFailurePolicyOnExitCodesRequirement, pod *corev1.Pod) (string, int32, bool) {
	statuses := append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, s := range statuses {
		t := s.State.Terminated
		if t == nil || t.ExitCode == 0 {
			continue // exit code 0 is success, never a failure to match
		}
		if r.ContainerName != nil && *r.ContainerName != s.Name {
			continue
		}
		in := false
		for _, v := range r.Values {
			if v == t.ExitCode {
				in = true
			}
		}
		if in == (r.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) {
			return s.Name, t.ExitCode, true
		}
	}
	return "", 0, false
}

// backoffDelay is how long to wait before replacing a failed pod after failures
// failures: base doubling per failure, up to limit.
func backoffDelay(failures int32, base, limit time.Duration) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := base
	for i := int32(1); i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// finishTime is when pod failed: its last container's finish, else its deletion or
// creation.
func finishTime(pod *corev1.Pod) time.Time {
	var t time.Time
	for _, s := range pod.Status.ContainerStatuses {
		if s.State.Terminated != nil && s.State.Terminated.FinishedAt.After(t) {
			t = s.State.Terminated.FinishedAt.Time
		}
	}
	if t.IsZero() && pod.DeletionTimestamp != nil {
		t = pod.DeletionTimestamp.Time
	}
	if t.IsZero() {
		t = pod.CreationTimestamp.Time
	}
	return t
}
