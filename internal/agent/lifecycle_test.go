package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/utils/ptr"

	"skiff/internal/testserver"
)

func shPod(name, node, script string, policy corev1.RestartPolicy) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: node, RestartPolicy: policy, TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers: []corev1.Container{{Name: "main", Image: "skiff.local/toolbox:1", Command: []string{"sh", "-c", script}}}},
	}
}

func waitFor(t *testing.T, srv *testserver.Server, name, what string, d time.Duration, ok func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	if !eventually(d, func() bool {
		var err error
		pod, err = srv.Client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		return err == nil && ok(pod)
	}) {
		t.Fatalf("pod %s: not %s within %v; status %+v", name, what, d, pod.Status)
	}
	return pod
}

// TestAgentPodLifecycle covers init containers and env from a ConfigMap, a missing
// key, a crash loop with its previous logs, Events, and an agent restart that leaves
// running containers alone.
func TestAgentPodLifecycle(t *testing.T) {
	requirePrerequisites(t)
	srv := testserver.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	startControllers(t, ctx, srv)
	loadBuiltins(t, srv)
	a := startAgent(t, srv, "kl-life", false)
	c := srv.Client

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"}, Data: map[string]string{"GREETING": "hello"}}
	if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env := shPod("env", "kl-life", `echo "greeting=$GREETING from=$FROM"; exec sleep 3600`, corev1.RestartPolicyAlways)
	env.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "skiff.local/toolbox:1", Command: []string{"sh", "-c", "echo init ran"}}}
	env.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}
	env.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "FROM", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}}
	missing := shPod("missing", "kl-life", "sleep 3600", corev1.RestartPolicyAlways)
	missing.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "NOPE"}}}}
	crash := shPod("crash", "kl-life", "echo crashing; exit 3", corev1.RestartPolicyAlways)
	for _, p := range []*corev1.Pod{env, missing, crash} {
		if _, err := c.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	running := waitFor(t, srv, "env", "Running", 60*time.Second, func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && len(p.Status.InitContainerStatuses) == 1 &&
			p.Status.InitContainerStatuses[0].State.Terminated != nil && p.Status.InitContainerStatuses[0].State.Terminated.Reason == "Completed"
	})
	var out string
	if !eventually(10*time.Second, func() bool {
		_, out = agentLogs(t, srv, a, "/containerLogs/default/env/main")
		return strings.Contains(out, "greeting=hello from=kl-life")
	}) {
		t.Errorf("env pod logs %q, want the ConfigMap value and the node name", out)
	}
	waitFor(t, srv, "missing", "CreateContainerConfigError", 30*time.Second, func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CreateContainerConfigError" &&
			strings.Contains(cs[0].State.Waiting.Message, "couldn't find key NOPE")
	})
	crashed := waitFor(t, srv, "crash", "in CrashLoopBackOff", 60*time.Second, func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount >= 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CrashLoopBackOff" &&
			cs[0].LastTerminationState.Terminated != nil && cs[0].LastTerminationState.Terminated.ExitCode == 3
	})
	t.Logf("crash: restartCount %d, %s", crashed.Status.ContainerStatuses[0].RestartCount, crashed.Status.ContainerStatuses[0].State.Waiting.Message)
	if code, out := agentLogs(t, srv, a, "/containerLogs/default/crash/main?previous=true"); code != 200 || !strings.Contains(out, "crashing") {
		t.Errorf("previous logs: %d %q", code, out)
	}

	events, err := c.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.name", "env").String()})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]bool{}
	for _, e := range events.Items {
		reasons[e.Reason] = true
	}
	for _, want := range []string{"Pulled", "Created", "Started"} {
		if !reasons[want] {
			t.Errorf("no %s event for pod env (have %v)", want, reasons)
		}
	}

	// Restarting the agent leaves the running container alone.
	before := running.Status.ContainerStatuses[0]
	a.stop()
	a.run(t, srv)
	time.Sleep(3 * time.Second)
	after := waitFor(t, srv, "env", "Running", 10*time.Second, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	cs := after.Status.ContainerStatuses[0]
	if cs.ContainerID != before.ContainerID || cs.RestartCount != before.RestartCount || cs.State.Running == nil {
		t.Errorf("after an agent restart: %s restarts %d running %v; want %s unchanged", cs.ContainerID, cs.RestartCount, cs.State.Running != nil, before.ContainerID)
	}
}
