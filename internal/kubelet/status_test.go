package kubelet

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

const sbID = "sb1"

var t0 = time.Unix(1_700_000_000, 0)

func running(name string, attempt uint32) runtimeContainer {
	return runtimeContainer{ID: name + "-" + string(rune('0'+attempt)), Name: name, SandboxID: sbID, Attempt: attempt,
		State: runtimeapi.ContainerState_CONTAINER_RUNNING, StartedAt: t0}
}

func exited(name string, attempt uint32, code int32, reason string) runtimeContainer {
	c := running(name, attempt)
	c.State, c.ExitCode, c.Reason, c.FinishedAt = runtimeapi.ContainerState_CONTAINER_EXITED, code, reason, t0.Add(time.Second)
	return c
}

func rtWith(cs ...runtimeContainer) *podRuntime {
	return &podRuntime{Sandboxes: []runtimeSandbox{{ID: sbID, Ready: true, IPs: []string{"10.42.0.9"}}}, Containers: cs}
}

func testPod(policy corev1.RestartPolicy, inits []string, apps ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"}, Spec: corev1.PodSpec{RestartPolicy: policy}}
	for _, n := range inits {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: n, Image: "img"})
	}
	for _, n := range apps {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n, Image: "img"})
	}
	return p
}

func TestPodPhase(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		rt   *podRuntime
		want corev1.PodPhase
	}{
		{"nothing yet", testPod(corev1.RestartPolicyAlways, nil, "a"), rtWith(), corev1.PodPending},
		{"init running", testPod(corev1.RestartPolicyAlways, []string{"i"}, "a"), rtWith(running("i", 0)), corev1.PodPending},
		{"init failed, Never", testPod(corev1.RestartPolicyNever, []string{"i"}, "a"), rtWith(exited("i", 0, 1, "")), corev1.PodFailed},
		{"init failed, Always retries", testPod(corev1.RestartPolicyAlways, []string{"i"}, "a"), rtWith(exited("i", 0, 1, "")), corev1.PodPending},
		{"running", testPod(corev1.RestartPolicyAlways, []string{"i"}, "a"), rtWith(exited("i", 0, 0, ""), running("a", 0)), corev1.PodRunning},
		{"one of two not started", testPod(corev1.RestartPolicyAlways, nil, "a", "b"), rtWith(running("a", 0)), corev1.PodPending},
		{"crashed, Always", testPod(corev1.RestartPolicyAlways, nil, "a"), rtWith(exited("a", 3, 1, "")), corev1.PodRunning},
		{"failed, OnFailure restarts", testPod(corev1.RestartPolicyOnFailure, nil, "a"), rtWith(exited("a", 0, 1, "")), corev1.PodRunning},
		{"done, OnFailure", testPod(corev1.RestartPolicyOnFailure, nil, "a"), rtWith(exited("a", 0, 0, "")), corev1.PodSucceeded},
		{"failed, Never", testPod(corev1.RestartPolicyNever, nil, "a", "b"), rtWith(exited("a", 0, 0, ""), exited("b", 0, 2, "")), corev1.PodFailed},
		{"done, Never", testPod(corev1.RestartPolicyNever, nil, "a"), rtWith(exited("a", 0, 0, "")), corev1.PodSucceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := podPhase(tt.pod, tt.rt); got != tt.want {
				t.Errorf("phase %s, want %s", got, tt.want)
			}
		})
	}
}

func TestContainerStatuses(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, nil, "a")
	tests := []struct {
		name     string
		rt       *podRuntime
		waiting  map[string]corev1.ContainerStateWaiting
		check    func(cs corev1.ContainerStatus) bool
		describe string
	}{
		{"creating", rtWith(), nil, func(cs corev1.ContainerStatus) bool {
			return cs.State.Waiting != nil && cs.State.Waiting.Reason == "ContainerCreating"
		}, "waiting ContainerCreating"},
		{"running after restarts", rtWith(running("a", 2), exited("a", 1, 1, "")), nil, func(cs corev1.ContainerStatus) bool {
			return cs.State.Running != nil && cs.RestartCount == 2 && cs.Ready && *cs.Started &&
				cs.LastTerminationState.Terminated.Reason == "Error" && cs.ContainerID == "containerd://a-2"
		}, "running, restartCount 2, lastState Error"},
		{"crash loop", rtWith(exited("a", 4, 1, "")), map[string]corev1.ContainerStateWaiting{"a": {Reason: "CrashLoopBackOff"}},
			func(cs corev1.ContainerStatus) bool {
				return cs.State.Waiting.Reason == "CrashLoopBackOff" && cs.LastTerminationState.Terminated.ExitCode == 1 && cs.RestartCount == 4
			}, "waiting CrashLoopBackOff with the crash as lastState"},
		{"oom", rtWith(exited("a", 0, 137, "OOMKilled")), nil, func(cs corev1.ContainerStatus) bool {
			return cs.State.Terminated.Reason == "OOMKilled" && cs.State.Terminated.ExitCode == 137
		}, "terminated OOMKilled"},
		{"completed", rtWith(exited("a", 0, 0, "")), nil, func(cs corev1.ContainerStatus) bool {
			return cs.State.Terminated.Reason == "Completed"
		}, "terminated Completed"},
		{"image pull", rtWith(), map[string]corev1.ContainerStateWaiting{"a": {Reason: "ImagePullBackOff", Message: "Back-off pulling image"}},
			func(cs corev1.ContainerStatus) bool { return cs.State.Waiting.Reason == "ImagePullBackOff" }, "waiting ImagePullBackOff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := computeStatus(statusInput{Pod: pod, Runtime: tt.rt, Waiting: tt.waiting, HostIPs: []string{"192.0.2.2"}, Now: t0})
			if len(st.ContainerStatuses) != 1 || !tt.check(st.ContainerStatuses[0]) {
				t.Errorf("status %+v, want %s", st.ContainerStatuses, tt.describe)
			}
			if st.PodIP != "10.42.0.9" || st.HostIP != "192.0.2.2" || st.QOSClass != corev1.PodQOSBestEffort {
				t.Errorf("podIP %q hostIP %q qos %s", st.PodIP, st.HostIP, st.QOSClass)
			}
		})
	}
}

func TestConditionsAndStability(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, []string{"i"}, "a")
	in := statusInput{Pod: pod, Runtime: rtWith(exited("i", 0, 0, ""), running("a", 0)), Now: t0}
	st := computeStatus(in)
	want := map[corev1.PodConditionType]corev1.ConditionStatus{
		corev1.PodScheduled: "True", corev1.PodReadyToStartContainers: "True", corev1.PodInitialized: "True",
		corev1.ContainersReady: "True", corev1.PodReady: "True",
	}
	for _, c := range st.Conditions {
		if want[c.Type] != c.Status {
			t.Errorf("condition %s = %s, want %s", c.Type, c.Status, want[c.Type])
		}
		delete(want, c.Type)
	}
	if len(want) > 0 {
		t.Errorf("missing conditions %v", want)
	}
	// Computing again over the written status changes nothing: no needless writes.
	pod.Status = st
	again := computeStatus(in)
	if again.StartTime == nil || !again.StartTime.Equal(st.StartTime) || len(again.Conditions) != len(st.Conditions) {
		t.Errorf("status not stable:\n%+v\n%+v", st, again)
	}
	for i := range st.Conditions {
		if !st.Conditions[i].LastTransitionTime.Equal(&again.Conditions[i].LastTransitionTime) {
			t.Errorf("condition %s transition time moved", st.Conditions[i].Type)
		}
	}
}

func TestPlan(t *testing.T) {
	bo := newBackoff(10*time.Second, 5*time.Minute, 10*time.Minute)
	sidecar := testPod(corev1.RestartPolicyAlways, []string{"side", "init"}, "a")
	sidecar.Spec.InitContainers[0].RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	tests := []struct {
		name      string
		pod       *corev1.Pod
		rt        *podRuntime
		start     []string
		waiting   string
		failed    bool
		killStale int
	}{
		{"fresh pod starts the first init only", testPod(corev1.RestartPolicyAlways, []string{"i1", "i2"}, "a"), rtWith(), []string{"i1"}, "", false, 0},
		{"second init after the first", testPod(corev1.RestartPolicyAlways, []string{"i1", "i2"}, "a"), rtWith(exited("i1", 0, 0, "")), []string{"i2"}, "", false, 0},
		{"apps after inits", testPod(corev1.RestartPolicyAlways, []string{"i1"}, "a", "b"), rtWith(exited("i1", 0, 0, "")), []string{"a", "b"}, "", false, 0},
		{"sidecar then next init", sidecar, rtWith(), []string{"side", "init"}, "", false, 0},
		{"sidecar restarts with apps running", sidecar, rtWith(exited("side", 0, 1, ""), exited("init", 0, 0, ""), running("a", 0)), []string{"side"}, "", false, 0},
		{"failed init, Never", testPod(corev1.RestartPolicyNever, []string{"i1"}, "a"), rtWith(exited("i1", 0, 1, "")), nil, "", true, 0},
		{"crash restarts at once the first time", testPod(corev1.RestartPolicyAlways, nil, "a"), rtWith(exited("a", 0, 1, "")), []string{"a"}, "", false, 0},
		{"Never leaves it", testPod(corev1.RestartPolicyNever, nil, "a"), rtWith(exited("a", 0, 1, "")), nil, "", false, 0},
		{"OnFailure leaves success", testPod(corev1.RestartPolicyOnFailure, nil, "a"), rtWith(exited("a", 0, 0, "")), nil, "", false, 0},
		{"stale sandbox container is killed, app started in the new one", testPod(corev1.RestartPolicyAlways, nil, "a"),
			&podRuntime{Sandboxes: []runtimeSandbox{{ID: "new", Ready: true}}, Containers: []runtimeContainer{running("a", 0)}}, nil, "", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := tt.rt.sandbox().ID
			p := planPod(tt.pod, tt.rt, sb, bo, t0.Add(2*time.Second))
			var names []string
			for _, a := range p.Start {
				names = append(names, a.Container.Name)
			}
			if tt.killStale > 0 {
				tt.start = []string{"a"}
			}
			if len(names) != len(tt.start) || (len(names) > 0 && names[0] != tt.start[0]) || p.Failed != tt.failed || len(p.Kill) != tt.killStale {
				t.Errorf("start %v failed %v kill %d; want %v %v %d", names, p.Failed, len(p.Kill), tt.start, tt.failed, tt.killStale)
			}
		})
	}
	// A second crash soon after a restart waits in CrashLoopBackOff.
	pod := testPod(corev1.RestartPolicyAlways, nil, "a")
	bo.Retried(restartKey(pod, "a"), t0)
	p := planPod(pod, rtWith(exited("a", 1, 1, "")), sbID, bo, t0.Add(2*time.Second))
	if len(p.Start) != 0 || p.Waiting["a"].Reason != "CrashLoopBackOff" || p.Requeue != 9*time.Second {
		t.Errorf("second crash: start %v waiting %v requeue %v; want CrashLoopBackOff for 9s", p.Start, p.Waiting, p.Requeue)
	}
	if a := planPod(pod, rtWith(exited("a", 1, 1, "")), sbID, bo, t0.Add(12*time.Second)); len(a.Start) != 1 || a.Start[0].Attempt != 2 {
		t.Errorf("after the delay: %+v, want a restart as attempt 2", a.Start)
	}
}

func TestInitContainerReady(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, []string{"done", "failed", "running"}, "a")
	rt := rtWith(exited("done", 0, 0, ""), exited("failed", 0, 1, ""), running("running", 0))
	st := computeStatus(statusInput{Pod: pod, Runtime: rt, Now: t0})
	got := map[string]bool{}
	for _, cs := range st.InitContainerStatuses {
		got[cs.Name] = cs.Ready
	}
	if want := map[string]bool{"done": true, "failed": false, "running": false}; !equalBools(got, want) {
		t.Errorf("init container readiness = %v, want %v", got, want)
	}
}

func equalBools(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestWithAddresses(t *testing.T) {
	sb := &runtimeSandbox{ID: sbID, Ready: true, IPs: []string{"10.42.0.9", "fd00::9"}}
	pod := testPod(corev1.RestartPolicyAlways, nil, "a")
	got := withAddresses(pod, sb, []string{"192.168.1.5"})
	if got.Status.PodIP != "10.42.0.9" || len(got.Status.PodIPs) != 2 || got.Status.HostIP != "192.168.1.5" || len(got.Status.HostIPs) != 1 {
		t.Errorf("addresses = %+v, want the sandbox's pod IPs and the node's host IP", got.Status)
	}
	if pod.Status.PodIP != "" {
		t.Error("withAddresses changed the pod it was given")
	}
	pod.Spec.HostNetwork = true
	if got := withAddresses(pod, sb, []string{"192.168.1.5"}); got.Status.PodIP != "192.168.1.5" {
		t.Errorf("host-network pod IP = %q, want the node's", got.Status.PodIP)
	}
}

func TestEphemeralContainers(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, nil, "a")
	pod.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "dbg", Image: "img"}}}
	bo := newBackoff(10*time.Second, 5*time.Minute, 10*time.Minute)
	for _, tc := range []struct {
		name      string
		rt        *podRuntime
		wantStart bool
		wantState string
	}{
		{"added: started", rtWith(running("a", 0)), true, "waiting"},
		{"running: left alone", rtWith(running("a", 0), running("dbg", 0)), false, "running"},
		{"exited: never restarted", rtWith(running("a", 0), exited("dbg", 0, 1, "")), false, "terminated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planPod(pod, tc.rt, sbID, bo, t0)
			started := len(p.Start) == 1 && p.Start[0].Container.Name == "dbg"
			if started != tc.wantStart || len(p.Kill) > 0 {
				t.Errorf("plan starts %v kills %v; want dbg started: %v, nothing killed", p.Start, p.Kill, tc.wantStart)
			}
			st := computeStatus(statusInput{Pod: pod, Runtime: tc.rt, Now: t0})
			if len(st.EphemeralContainerStatuses) != 1 {
				t.Fatalf("ephemeral statuses: %+v", st.EphemeralContainerStatuses)
			}
			s := st.EphemeralContainerStatuses[0].State
			state := map[bool]string{s.Waiting != nil: "waiting", s.Running != nil: "running", s.Terminated != nil: "terminated"}[true]
			if state != tc.wantState || st.Phase != corev1.PodRunning {
				t.Errorf("ephemeral state %s, pod phase %s; want %s, Running", state, st.Phase, tc.wantState)
			}
		})
	}
}
