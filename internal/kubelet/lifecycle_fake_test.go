package kubelet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

// The pod lifecycle driven through the CRI fake runtime, one worker step at a time.

func simplePod(name string, containers ...corev1.Container) *corev1.Pod {
	if len(containers) == 0 {
		containers = []corev1.Container{{Name: "app", Image: "skiff.local/pause:1"}}
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: containers, RestartPolicy: corev1.RestartPolicyAlways}}
}

func condition(pod *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func containerStatus(pod *corev1.Pod, name string) corev1.ContainerStatus {
	for _, s := range append(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses...) {
		if s.Name == name {
			return s
		}
	}
	return corev1.ContainerStatus{}
}

func TestFakeRuntimeStart(t *testing.T) {
	tests := []struct {
		name       string
		images     []string // present on the node
		pullPolicy corev1.PullPolicy
		pullErr    error
		wantPhase  corev1.PodPhase
		wantReady  corev1.ConditionStatus
		wantReason string // waiting reason of the container
		wantPulls  int
	}{
		{name: "image present", images: []string{"skiff.local/pause:1"}, wantPhase: corev1.PodRunning, wantReady: corev1.ConditionTrue},
		{name: "image pulled", wantPhase: corev1.PodRunning, wantReady: corev1.ConditionTrue, wantPulls: 1},
		{name: "pull fails", pullErr: errors.New("not in the registry"), wantPhase: corev1.PodPending, wantReady: corev1.ConditionFalse, wantReason: "ErrImagePull", wantPulls: 1},
		{name: "never pulled", pullPolicy: corev1.PullNever, wantPhase: corev1.PodPending, wantReady: corev1.ConditionFalse, wantReason: "ErrImageNeverPull"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newFakeNode(t)
			n.images.SetFakeImages(tt.images)
			if tt.pullErr != nil {
				n.images.InjectError("PullImage", tt.pullErr)
			}
			pod := simplePod("web")
			pod.Spec.Containers[0].ImagePullPolicy = tt.pullPolicy
			n.add(pod)
			n.sync("web")
			got := n.get("web")
			if got.Status.Phase != tt.wantPhase || condition(got, corev1.PodReady) != tt.wantReady {
				t.Fatalf("phase %s ready %s; want %s %s", got.Status.Phase, condition(got, corev1.PodReady), tt.wantPhase, tt.wantReady)
			}
			cs := containerStatus(got, "app")
			if tt.wantReason != "" && (cs.State.Waiting == nil || cs.State.Waiting.Reason != tt.wantReason) {
				t.Fatalf("container state %+v; want waiting %s", cs.State, tt.wantReason)
			}
			if tt.wantReason == "" && (got.Status.PodIP != "192.168.192.168" || cs.State.Running == nil) {
				t.Fatalf("pod IP %q, container state %+v; want the sandbox's IP and running", got.Status.PodIP, cs.State)
			}
			if n.called("RunPodSandbox") != 1 {
				t.Fatalf("RunPodSandbox called %d times", n.called("RunPodSandbox"))
			}
			pulls := 0
			for _, c := range n.images.Called {
				if c == "PullImage" {
					pulls++
				}
			}
			if pulls != tt.wantPulls {
				t.Fatalf("%d pulls; want %d", pulls, tt.wantPulls)
			}
		})
	}
}

func TestFakeRuntimeRestartBackoff(t *testing.T) {
	tests := []struct {
		policy       corev1.RestartPolicy
		exitCode     int32
		wantRestarts int32
		wantPhase    corev1.PodPhase
	}{
		{policy: corev1.RestartPolicyAlways, exitCode: 0, wantRestarts: 1, wantPhase: corev1.PodRunning},
		{policy: corev1.RestartPolicyOnFailure, exitCode: 1, wantRestarts: 1, wantPhase: corev1.PodRunning},
		{policy: corev1.RestartPolicyOnFailure, exitCode: 0, wantRestarts: 0, wantPhase: corev1.PodSucceeded},
		{policy: corev1.RestartPolicyNever, exitCode: 2, wantRestarts: 0, wantPhase: corev1.PodFailed},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			n := newFakeNode(t)
			pod := simplePod("crash")
			pod.Spec.RestartPolicy = tt.policy
			n.add(pod)
			n.sync("crash")
			n.exit("app", tt.exitCode)
			n.sync("crash")
			got := n.get("crash")
			cs := containerStatus(got, "app")
			if cs.RestartCount != tt.wantRestarts || got.Status.Phase != tt.wantPhase {
				t.Fatalf("restarts %d phase %s; want %d %s", cs.RestartCount, got.Status.Phase, tt.wantRestarts, tt.wantPhase)
			}
			if tt.wantRestarts == 0 {
				return
			}
			// The second crash waits out the back-off, shown as CrashLoopBackOff.
			n.exit("app", tt.exitCode|1)
			requeue := n.sync("crash")
			cs = containerStatus(n.get("crash"), "app")
			if cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" || cs.RestartCount != 1 {
				t.Fatalf("after a second crash: %+v restarts %d; want CrashLoopBackOff", cs.State, cs.RestartCount)
			}
			if requeue <= 0 || requeue > 10*time.Second {
				t.Fatalf("requeue %v; want the back-off", requeue)
			}
			if !n.sawEvent("BackOff") {
				t.Fatal("no BackOff event")
			}
		})
	}
}

func TestFakeRuntimeReadinessProbe(t *testing.T) {
	for _, probeErr := range []error{nil, errors.New("exit status 1")} {
		t.Run(map[bool]string{true: "passes", false: "fails"}[probeErr == nil], func(t *testing.T) {
			n := newFakeNode(t)
			if probeErr != nil {
				for range 10 {
					n.rt.InjectError("ExecSync", probeErr)
				}
			}
			pod := simplePod("probed")
			pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{PeriodSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1,
				ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
			n.add(pod)
			n.sync("probed")
			if got := n.get("probed"); condition(got, corev1.PodReady) != corev1.ConditionFalse || got.Status.Phase != corev1.PodRunning {
				t.Fatalf("before the probe: phase %s ready %s; want Running, not ready", got.Status.Phase, condition(got, corev1.PodReady))
			}
			id := n.container("app").Id
			deadline := time.Now().Add(10 * time.Second)
			for n.called("ExecSync") == 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			for probeErr == nil && !n.k.probes.Ready(id) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			n.sync("probed")
			want := corev1.ConditionTrue
			if probeErr != nil {
				want = corev1.ConditionFalse
			}
			if got := n.get("probed"); condition(got, corev1.PodReady) != want {
				t.Fatalf("after the probe ran: ready %s; want %s", condition(got, corev1.PodReady), want)
			}
		})
	}
}

func TestFakeRuntimePostStartHook(t *testing.T) {
	for _, hookErr := range []error{nil, errors.New("hook command failed")} {
		t.Run(map[bool]string{true: "succeeds", false: "fails"}[hookErr == nil], func(t *testing.T) {
			n := newFakeNode(t)
			if hookErr != nil {
				n.rt.InjectError("ExecSync", hookErr)
			}
			pod := simplePod("hooked")
			pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"touch", "/started"}}}}
			n.add(pod)
			n.sync("hooked")
			if n.called("ExecSync") != 1 {
				t.Fatalf("hook ran %d times", n.called("ExecSync"))
			}
			c := n.container("app")
			if hookErr == nil && c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
				t.Fatalf("container %s after a good hook", c.State)
			}
			if hookErr != nil && (c.State != runtimeapi.ContainerState_CONTAINER_EXITED || !n.sawEvent("FailedPostStartHook")) {
				t.Fatalf("container %s after a failed hook; want it stopped and a FailedPostStartHook event", c.State)
			}
		})
	}
}

func TestFakeRuntimeTerminationMessage(t *testing.T) {
	tests := []struct {
		name    string
		policy  corev1.TerminationMessagePolicy
		file    string
		log     string
		code    int32
		wantMsg string
	}{
		{name: "file", policy: corev1.TerminationMessageReadFile, file: "bye", code: 0, wantMsg: "bye"},
		{name: "file wins over log", policy: corev1.TerminationMessageFallbackToLogsOnError, file: "from file", log: "from log\n", code: 1, wantMsg: "from file"},
		{name: "log on error", policy: corev1.TerminationMessageFallbackToLogsOnError, log: "from log\n", code: 1, wantMsg: "from log\n"},
		{name: "no log on success", policy: corev1.TerminationMessageFallbackToLogsOnError, log: "from log\n", code: 0, wantMsg: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newFakeNode(t)
			pod := simplePod("msg")
			pod.Spec.RestartPolicy = corev1.RestartPolicyNever
			pod.Spec.Containers[0].TerminationMessagePolicy = tt.policy
			n.add(pod)
			n.sync("msg")
			// The fake runtime does not report mounts or write logs: say what
			// containerd would, from the mount the kubelet asked for.
			c := n.container("app")
			msgFile := filepath.Join(t.TempDir(), "termination-log")
			logFile := filepath.Join(t.TempDir(), "0.log")
			if err := os.WriteFile(msgFile, []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(logFile, []byte("2026-01-01T00:00:00Z stdout F "+tt.log), 0o644); err != nil {
				t.Fatal(err)
			}
			n.rt.Lock()
			c.Mounts = []*runtimeapi.Mount{{ContainerPath: corev1.TerminationMessagePathDefault, HostPath: msgFile}}
			c.LogPath = logFile
			n.rt.Unlock()
			n.exit("app", tt.code)
			n.sync("msg")
			term := containerStatus(n.get("msg"), "app").State.Terminated
			if term == nil || term.Message != tt.wantMsg {
				t.Fatalf("terminated %+v; want message %q", term, tt.wantMsg)
			}
		})
	}
}

func TestFakeRuntimeInitContainers(t *testing.T) {
	n := newFakeNode(t)
	pod := simplePod("init")
	pod.Spec.InitContainers = []corev1.Container{{Name: "first", Image: "skiff.local/toolbox:1"}, {Name: "second", Image: "skiff.local/toolbox:1"}}
	n.add(pod)
	steps := []struct {
		exit        string // init container that exits 0 before the step
		wantRunning string // the container the step starts
		wantInit    string // the pod's Initialized condition
	}{
		{wantRunning: "first", wantInit: "False"},
		{exit: "first", wantRunning: "second", wantInit: "False"},
		{exit: "second", wantRunning: "app", wantInit: "True"},
	}
	for i, s := range steps {
		if s.exit != "" {
			n.exit(s.exit, 0)
		}
		n.sync("init")
		got := n.get("init")
		for _, name := range []string{"first", "second", "app"} {
			c := n.container(name)
			running := c != nil && c.State == runtimeapi.ContainerState_CONTAINER_RUNNING
			if running != (name == s.wantRunning) {
				t.Fatalf("step %d: %s running=%v; want only %s running", i, name, running, s.wantRunning)
			}
		}
		if string(condition(got, corev1.PodInitialized)) != s.wantInit {
			t.Fatalf("step %d: Initialized %s; want %s", i, condition(got, corev1.PodInitialized), s.wantInit)
		}
	}
	if st := containerStatus(n.get("init"), "first"); st.State.Terminated == nil || st.State.Terminated.Reason != "Completed" {
		t.Fatalf("first init container %+v; want Completed", st.State)
	}
}

func TestFakeRuntimeDeletionWithGrace(t *testing.T) {
	n := newFakeNode(t)
	pod := simplePod("going")
	pod.Spec.TerminationGracePeriodSeconds = ptr.To[int64](7)
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"drain"}}}}
	n.add(pod)
	n.sync("going")
	// What the API server does on a graceful delete.
	got := n.get("going")
	now := metav1.Now()
	got.DeletionTimestamp, got.DeletionGracePeriodSeconds = &now, ptr.To[int64](7)
	if err := n.client.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), got, "default"); err != nil {
		t.Fatal(err)
	}
	n.sync("going")
	if n.called("ExecSync") != 1 {
		t.Fatalf("preStop ran %d times; want once", n.called("ExecSync"))
	}
	if c := n.container("app"); c.State != runtimeapi.ContainerState_CONTAINER_EXITED {
		t.Fatalf("container %s after deletion", c.State)
	}
	if n.get("going") != nil {
		t.Fatal("the pod object is still there after its containers stopped")
	}
	// The worker then removes what is left on the node.
	n.sync("going")
	if len(n.rt.Containers) != 0 || len(n.rt.Sandboxes) != 0 {
		t.Fatalf("%d containers, %d sandboxes left after cleanup", len(n.rt.Containers), len(n.rt.Sandboxes))
	}
}

// A sync that finds nothing changed writes nothing: every write costs the API
// server and every watcher of the pod.
func TestFakeRuntimeSteadyStateWritesNothing(t *testing.T) {
	n := newFakeNode(t)
	n.add(simplePod("steady"))
	n.sync("steady")
	n.client.ClearActions()
	n.sync("steady")
	for _, a := range n.client.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			t.Errorf("a second sync did %s %s/%s", a.GetVerb(), a.GetResource().Resource, a.GetSubresource())
		}
	}
}

// The PLEG wakes a worker for a runtime change it has not seen, and not for the
// changes its own sync made and read back.
func TestFakeRuntimeRelistWakesOnlyForUnseenChanges(t *testing.T) {
	n := newFakeNode(t)
	n.add(simplePod("watched"))
	n.sync("watched")
	uid := n.get("watched").UID
	relisted := func() string {
		sig, _, err := n.k.relist(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return sig[string(uid)]
	}
	if sig := relisted(); sig == "" || !n.k.runtime.seenBy(uid, sig) {
		t.Fatalf("the worker's own start (%q) would wake it", sig)
	}
	n.exit("app", 1)
	if sig := relisted(); n.k.runtime.seenBy(uid, sig) {
		t.Fatalf("an exit the worker has not seen (%q) would not wake it", sig)
	}
}

// A container that exits before its worker reads the runtime back is restarted
// without waiting for a wake-up: the PLEG does not wake a worker for a state it
// has read.
func TestFakeRuntimeExitSeenOnReadBackRunsAgain(t *testing.T) {
	n := newFakeNode(t)
	n.add(simplePod("quick"))
	n.sync("quick")
	n.exit("app", 0)
	w := n.workers[n.get("quick").UID]
	// The plan the sync acted on was made before the exit; the read-back sees it.
	rt, err := n.k.runtime.podRuntime(context.Background(), w.uid)
	if err != nil {
		t.Fatal(err)
	}
	stale := plan{Start: []startAction{{Container: &n.get("quick").Spec.Containers[0], Attempt: 0}}}
	w.pokeIfNewWork(n.get("quick"), rt, rt.sandbox().ID, stale)
	select {
	case <-w.wakeCh:
	default:
		t.Fatal("the worker was not woken for the exit it read back")
	}
	// Nothing new (the same attempt planned again, as after a failed start): no wake-up.
	again := planPod(n.get("quick"), rt, rt.sandbox().ID, n.k.restarts, time.Now())
	w.pokeIfNewWork(n.get("quick"), rt, rt.sandbox().ID, again)
	select {
	case <-w.wakeCh:
		t.Fatal("woken with nothing new to do")
	default:
	}
}
