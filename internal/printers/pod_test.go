package printers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// now is the fixed moment every test measures ages from.
var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func agoPtr(d time.Duration) *metav1.Time { t := ago(d); return &t }

// Container states, named for what they look like in `kubectl describe`.
func waiting(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
}

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Hour)}}
}

func terminated(reason string, exit, signal int32) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: exit, Signal: signal}}
}

// lastDied is a previous termination that ended d ago.
func lastDied(d time.Duration) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1, FinishedAt: ago(d)}}
}

func status(name string, state corev1.ContainerState, ready bool) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: state, Ready: ready}
}

func restarted(s corev1.ContainerStatus, n int32, last time.Duration) corev1.ContainerStatus {
	s.RestartCount = n
	s.LastTerminationState = lastDied(last)
	return s
}

func started(s corev1.ContainerStatus) corev1.ContainerStatus {
	t := true
	s.Started = &t
	return s
}

func containers(names ...string) []corev1.Container {
	out := make([]corev1.Container, len(names))
	for i, n := range names {
		out[i] = corev1.Container{Name: n, Image: "registry.local/" + n + ":1"}
	}
	return out
}

func sidecar(name string) corev1.Container {
	always := corev1.ContainerRestartPolicyAlways
	return corev1.Container{Name: name, Image: "registry.local/" + name + ":1", RestartPolicy: &always}
}

func condition(t corev1.PodConditionType, s corev1.ConditionStatus) corev1.PodCondition {
	return corev1.PodCondition{Type: t, Status: s}
}

// pod is a pod created ten minutes ago with the given spec and status.
func pod(spec corev1.PodSpec, st corev1.PodStatus) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(10 * time.Minute)},
		Spec:       spec,
		Status:     st,
	}
}

func TestPodReadyStatusRestarts(t *testing.T) {
	one := corev1.PodSpec{Containers: containers("app")}
	two := corev1.PodSpec{Containers: containers("app", "log")}
	withInit := corev1.PodSpec{InitContainers: containers("migrate", "seed"), Containers: containers("app")}
	withSidecar := corev1.PodSpec{InitContainers: []corev1.Container{sidecar("proxy")}, Containers: containers("app")}
	deleting := func(p *corev1.Pod) *corev1.Pod { p.DeletionTimestamp = agoPtr(time.Minute); return p }

	tests := []struct {
		name string
		pod  *corev1.Pod
		// want is READY, STATUS, RESTARTS.
		want []interface{}
	}{
		{
			name: "pending, not yet scheduled",
			pod:  pod(one, corev1.PodStatus{Phase: corev1.PodPending}),
			want: []interface{}{"0/1", "Pending", "0"},
		},
		{
			name: "scheduling gated",
			pod: pod(one, corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated},
			}}),
			want: []interface{}{"0/1", "SchedulingGated", "0"},
		},
		{
			name: "container creating",
			pod: pod(one, corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
				status("app", waiting("ContainerCreating"), false)}}),
			want: []interface{}{"0/1", "ContainerCreating", "0"},
		},
		{
			name: "running and ready",
			pod: pod(two, corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				status("app", running(), true), status("log", running(), true)}}),
			want: []interface{}{"2/2", "Running", "0"},
		},
		{
			name: "running, one container not ready yet",
			pod: pod(two, corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				status("app", running(), true), status("log", running(), false)}}),
			want: []interface{}{"1/2", "Running", "0"},
		},
		{
			name: "crash loop, with the last restart's age",
			pod: pod(one, corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				restarted(status("app", waiting("CrashLoopBackOff"), false), 3, 2*time.Minute)}}),
			want: []interface{}{"0/1", "CrashLoopBackOff", "3 (2m ago)"},
		},
		{
			name: "image pull error",
			pod: pod(one, corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
				status("app", waiting("ErrImagePull"), false)}}),
			want: []interface{}{"0/1", "ErrImagePull", "0"},
		},
		{
			name: "image pull back-off",
			pod: pod(one, corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
				status("app", waiting("ImagePullBackOff"), false)}}),
			want: []interface{}{"0/1", "ImagePullBackOff", "0"},
		},
		{
			name: "OOM killed",
			pod: pod(one, corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				restarted(status("app", terminated("OOMKilled", 137, 0), false), 1, 30*time.Second)}}),
			want: []interface{}{"0/1", "OOMKilled", "1 (30s ago)"},
		},
		{
			name: "completed",
			pod: pod(one, corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
				status("app", terminated("Completed", 0, 0), false)}}),
			want: []interface{}{"0/1", "Completed", "0"},
		},
		{
			name: "error",
			pod: pod(one, corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
				status("app", terminated("Error", 1, 0), false)}}),
			want: []interface{}{"0/1", "Error", "0"},
		},
		{
			name: "terminated without a reason shows the signal",
			pod: pod(one, corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
				status("app", terminated("", 137, 9), false)}}),
			want: []interface{}{"0/1", "Signal:9", "0"},
		},
		{
			name: "terminated without a reason or signal shows the exit code",
			pod: pod(one, corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
				status("app", terminated("", 3, 0), false)}}),
			want: []interface{}{"0/1", "ExitCode:3", "0"},
		},
		{
			name: "one container completed while another still runs, pod ready",
			pod: pod(two, corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions: []corev1.PodCondition{condition(corev1.PodReady, corev1.ConditionTrue)},
				ContainerStatuses: []corev1.ContainerStatus{
					status("app", running(), true), status("log", terminated("Completed", 0, 0), false)}}),
			want: []interface{}{"1/2", "Running", "0"},
		},
		{
			name: "one container completed while another still runs, pod not ready",
			pod: pod(two, corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				status("app", running(), true), status("log", terminated("Completed", 0, 0), false)}}),
			want: []interface{}{"1/2", "NotReady", "0"},
		},
		{
			name: "first init container running",
			pod: pod(withInit, corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{
					status("migrate", running(), false), status("seed", waiting("PodInitializing"), false)},
				ContainerStatuses: []corev1.ContainerStatus{status("app", waiting("PodInitializing"), false)}}),
			want: []interface{}{"0/1", "Init:0/2", "0"},
		},
		{
			name: "second init container running",
			pod: pod(withInit, corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{
					status("migrate", terminated("Completed", 0, 0), false), status("seed", running(), false)},
				ContainerStatuses: []corev1.ContainerStatus{status("app", waiting("PodInitializing"), false)}}),
			want: []interface{}{"0/1", "Init:1/2", "0"},
		},
		{
			name: "init container crash loop counts its restarts",
			pod: pod(withInit, corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{
					restarted(status("migrate", waiting("CrashLoopBackOff"), false), 4, 3*time.Minute),
					status("seed", waiting("PodInitializing"), false)},
				ContainerStatuses: []corev1.ContainerStatus{status("app", waiting("PodInitializing"), false)}}),
			want: []interface{}{"0/1", "Init:CrashLoopBackOff", "4 (3m ago)"},
		},
		{
			name: "init container failed",
			pod: pod(withInit, corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{status("migrate", terminated("Error", 1, 0), false)}}),
			want: []interface{}{"0/1", "Init:Error", "0"},
		},
		{
			name: "init container failed without a reason",
			pod: pod(withInit, corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{status("migrate", terminated("", 2, 0), false)}}),
			want: []interface{}{"0/1", "Init:ExitCode:2", "0"},
		},
		{
			name: "init done, app container starting",
			pod: pod(withInit, corev1.PodStatus{Phase: corev1.PodPending,
				Conditions: []corev1.PodCondition{condition(corev1.PodInitialized, corev1.ConditionTrue)},
				InitContainerStatuses: []corev1.ContainerStatus{
					restarted(status("migrate", terminated("Completed", 0, 0), false), 2, 8*time.Minute),
					status("seed", terminated("Completed", 0, 0), false)},
				ContainerStatuses: []corev1.ContainerStatus{status("app", waiting("PodInitializing"), false)}}),
			// Restarts of init containers that have finished no longer count.
			want: []interface{}{"0/1", "PodInitializing", "0"},
		},
		{
			name: "native sidecar running beside the app",
			pod: pod(withSidecar, corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions: []corev1.PodCondition{condition(corev1.PodInitialized, corev1.ConditionTrue)},
				InitContainerStatuses: []corev1.ContainerStatus{
					restarted(started(status("proxy", running(), true)), 1, 5*time.Minute)},
				ContainerStatuses: []corev1.ContainerStatus{status("app", running(), true)}}),
			want: []interface{}{"2/2", "Running", "1 (5m ago)"},
		},
		{
			name: "native sidecar not started yet",
			pod: pod(withSidecar, corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{status("proxy", running(), false)},
				ContainerStatuses:     []corev1.ContainerStatus{status("app", waiting("PodInitializing"), false)}}),
			want: []interface{}{"0/2", "Init:0/1", "0"},
		},
		{
			name: "evicted",
			pod: pod(one, corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted",
				Message: "The node was low on resource: memory."}),
			want: []interface{}{"0/1", "Evicted", "0"},
		},
		{
			name: "terminating",
			pod: deleting(pod(one, corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				status("app", running(), true)}})),
			want: []interface{}{"1/1", "Terminating", "0"},
		},
		{
			name: "deleted on an unreachable node",
			pod: deleting(pod(one, corev1.PodStatus{Phase: corev1.PodRunning, Reason: "NodeLost",
				ContainerStatuses: []corev1.ContainerStatus{status("app", running(), true)}})),
			want: []interface{}{"1/1", "Unknown", "0"},
		},
		{
			name: "a finished pod being deleted keeps its outcome",
			pod: deleting(pod(one, corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
				status("app", terminated("Completed", 0, 0), false)}})),
			want: []interface{}{"0/1", "Completed", "0"},
		},
	}
	p := For(schema.GroupKind{Kind: "Pod"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row, err := p.Row(tt.pod, now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, row[1:4]); diff != "" {
				t.Errorf("READY, STATUS, RESTARTS (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodWideRow(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want []interface{}
	}{
		{
			name: "not scheduled",
			pod:  pod(corev1.PodSpec{Containers: containers("app")}, corev1.PodStatus{Phase: corev1.PodPending}),
			want: []interface{}{"web", "0/1", "Pending", "0", "10m", "<none>", "<none>", "<none>", "<none>"},
		},
		{
			name: "scheduled, with readiness gates and a nominated node",
			pod: pod(corev1.PodSpec{
				Containers: containers("app"),
				NodeName:   "node-1",
				ReadinessGates: []corev1.PodReadinessGate{
					{ConditionType: "example.com/lb-ready"}, {ConditionType: "example.com/warm"}},
			}, corev1.PodStatus{
				Phase:             corev1.PodRunning,
				PodIP:             "10.244.1.7",
				PodIPs:            []corev1.PodIP{{IP: "10.244.1.7"}, {IP: "fd00::7"}},
				NominatedNodeName: "node-2",
				Conditions: []corev1.PodCondition{
					condition("example.com/lb-ready", corev1.ConditionTrue),
					condition("example.com/warm", corev1.ConditionFalse)},
				ContainerStatuses: []corev1.ContainerStatus{status("app", running(), true)},
			}),
			want: []interface{}{"web", "1/1", "Running", "0", "10m", "10.244.1.7", "node-1", "node-2", "1/2"},
		},
		{
			name: "only the singular pod IP set",
			pod: pod(corev1.PodSpec{Containers: containers("app"), NodeName: "node-1"},
				corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.1.8"}),
			want: []interface{}{"web", "0/1", "Running", "0", "10m", "10.244.1.8", "node-1", "<none>", "<none>"},
		},
	}
	p := For(schema.GroupKind{Kind: "Pod"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row, err := p.Row(tt.pod, now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, row); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}
