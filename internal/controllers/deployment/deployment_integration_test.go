package deployment

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"

	"skiff/internal/controllers/replicaset"
	"skiff/internal/controllers/workloads"
	"skiff/internal/controllers/workloads/fakekubelet"
	"skiff/internal/controllers/workloads/wltest"
)

// readyWatcher follows the ready, not-terminating pods of a selector through a watch
// and remembers the fewest seen once the count first reached floor.
type readyWatcher struct {
	mu      sync.Mutex
	ready   map[string]bool
	reached bool
	min     int
	floor   int
}

func watchReady(t *testing.T, env *wltest.Env, selector string, floor int) *readyWatcher {
	w, err := env.Client.CoreV1().Pods(env.NS).Watch(env.Ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	rw := &readyWatcher{ready: map[string]bool{}, floor: floor, min: 1 << 30}
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			rw.mu.Lock()
			rw.ready[p.Name] = ev.Type != watch.Deleted && p.DeletionTimestamp == nil && workloads.IsPodReady(p)
			n := 0
			for _, r := range rw.ready {
				if r {
					n++
				}
			}
			if n >= rw.floor {
				rw.reached = true
			}
			if rw.reached {
				rw.min = min(rw.min, n)
			}
			rw.mu.Unlock()
		}
	}()
	return rw
}

func (rw *readyWatcher) lowest() int {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.min
}

func seedDeployment(image string) *appsv1.Deployment {
	n := int32(3)
	one, zero := intstr.FromInt32(1), intstr.FromInt32(0)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &one, MaxUnavailable: &zero}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
			},
		},
	}
}

func startDeploymentEnv(t *testing.T) *wltest.Env {
	// Pods take a moment to become ready, so a rollout has steps to watch.
	slow := func(*corev1.Pod) fakekubelet.Outcome {
		return fakekubelet.Outcome{Phase: corev1.PodRunning, Delay: 300 * time.Millisecond}
	}
	return wltest.Start(t, wltest.Options{Outcome: slow}, New, replicaset.New)
}

// waitRolledOut waits until every pod runs image and the status says so.
func waitRolledOut(t *testing.T, env *wltest.Env, image string) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	wltest.Eventually(t, 30*time.Second, func() (bool, string) {
		d, _ = env.Client.AppsV1().Deployments(env.NS).Get(env.Ctx, "web", metav1.GetOptions{})
		pods := env.Pods(t, "app=web")
		for _, p := range pods {
			if p.Spec.Containers[0].Image != image || !workloads.IsPodReady(&p) {
				return false, wltest.Describe(pods)
			}
		}
		st := d.Status
		c := getCondition(&st, appsv1.DeploymentProgressing)
		return len(pods) == 3 && st.UpdatedReplicas == 3 && st.AvailableReplicas == 3 && st.Replicas == 3 &&
				st.ObservedGeneration == d.Generation && c != nil && c.Reason == reasonNewRSAvailable,
			fmt.Sprintf("%s; status %+v", wltest.Describe(pods), st)
	})
	return d
}

func TestDeploymentRolloutUndoPauseResume(t *testing.T) {
	env := startDeploymentEnv(t)
	dcl := env.Client.AppsV1().Deployments(env.NS)
	if _, err := dcl.Create(env.Ctx, seedDeployment("web:v1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, env, "web:v1")
	rw := watchReady(t, env, "app=web", 3)
	env.Kubectl(t, "set", "image", "deployment/web", "web=web:v2")
	d := waitRolledOut(t, env, "web:v2")
	if got := rw.lowest(); got < 3 {
		t.Errorf("ready pods fell to %d during the v1→v2 rollout with maxUnavailable 0", got)
	}
	if d.Annotations[RevisionAnnotation] != "2" {
		t.Errorf("revision %q, want 2", d.Annotations[RevisionAnnotation])
	}
	if out := env.Kubectl(t, "rollout", "status", "deployment/web", "--timeout=10s"); !strings.Contains(out, "successfully rolled out") {
		t.Errorf("rollout status: %s", out)
	}

	// kubectl 1.32 undoes client-side: it patches the template from the old ReplicaSet.
	env.Kubectl(t, "rollout", "undo", "deployment/web")
	d = waitRolledOut(t, env, "web:v1")
	if d.Annotations[RevisionAnnotation] != "3" {
		t.Errorf("after undo revision %q, want 3", d.Annotations[RevisionAnnotation])
	}
	hist := env.Kubectl(t, "rollout", "history", "deployment/web")
	if !strings.Contains(hist, "2 ") || !strings.Contains(hist, "3 ") || strings.Contains(hist, "1 ") {
		t.Errorf("history should list revisions 2 and 3 only:\n%s", hist)
	}
	rsl, _ := env.Client.AppsV1().ReplicaSets(env.NS).List(env.Ctx, metav1.ListOptions{})
	if len(rsl.Items) != 2 {
		t.Errorf("undo should reuse the v1 ReplicaSet; have %d ReplicaSets", len(rsl.Items))
	}

	env.Kubectl(t, "rollout", "pause", "deployment/web")
	env.Kubectl(t, "set", "image", "deployment/web", "web=web:v3")
	wltest.Eventually(t, 10*time.Second, func() (bool, string) {
		d, _ = dcl.Get(env.Ctx, "web", metav1.GetOptions{})
		c := getCondition(&d.Status, appsv1.DeploymentProgressing)
		return d.Status.ObservedGeneration == d.Generation && c != nil && c.Reason == reasonPaused, fmt.Sprintf("%+v", d.Status)
	})
	time.Sleep(500 * time.Millisecond)
	for _, p := range env.Pods(t, "app=web") {
		if p.Spec.Containers[0].Image != "web:v1" {
			t.Fatalf("paused deployment rolled pod %s to %s", p.Name, p.Spec.Containers[0].Image)
		}
	}
	env.Kubectl(t, "rollout", "resume", "deployment/web")
	waitRolledOut(t, env, "web:v3")
}

func TestDeploymentRecreateAndScale(t *testing.T) {
	env := startDeploymentEnv(t)
	d := seedDeployment("web:v1")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	if _, err := env.Client.AppsV1().Deployments(env.NS).Create(env.Ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, env, "web:v1")
	env.Kubectl(t, "set", "image", "deployment/web", "web=web:v2")
	waitRolledOut(t, env, "web:v2")
	env.Kubectl(t, "scale", "deployment/web", "--current-replicas=3", "--replicas=5")
	wltest.Eventually(t, 20*time.Second, func() (bool, string) {
		pods := env.Pods(t, "app=web")
		got, _ := env.Client.AppsV1().Deployments(env.NS).Get(env.Ctx, "web", metav1.GetOptions{})
		return len(pods) == 5 && got.Status.AvailableReplicas == 5, fmt.Sprintf("%s %+v", wltest.Describe(pods), got.Status)
	})
}

// TestDeploymentProportionalScaling is the conformance suite's case: a rollout stuck
// on an image that never starts (new ReplicaSet 5, old 8 of 10, maxSurge 3,
// maxUnavailable 2) is scaled to 30, and the 20 new pods are spread 12 to the old
// ReplicaSet and 8 to the new one, in proportion to their sizes.
func TestDeploymentProportionalScaling(t *testing.T) {
	stuck := func(p *corev1.Pod) fakekubelet.Outcome {
		if p.Spec.Containers[0].Image == "web:404" {
			return fakekubelet.Outcome{Phase: corev1.PodPending}
		}
		return fakekubelet.Outcome{Phase: corev1.PodRunning}
	}
	env := wltest.Start(t, wltest.Options{Outcome: stuck}, New, replicaset.New)
	d := seedDeployment("web:v1")
	d.Spec.Replicas = new(int32(10))
	surge, unavailable := intstr.FromInt32(3), intstr.FromInt32(2)
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable}
	dcl := env.Client.AppsV1().Deployments(env.NS)
	if _, err := dcl.Create(env.Ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sizes := func() (old, cur int32, desc string) {
		l, _ := env.Client.AppsV1().ReplicaSets(env.NS).List(env.Ctx, metav1.ListOptions{LabelSelector: "app=web"})
		for _, rs := range l.Items {
			if rs.Spec.Template.Spec.Containers[0].Image == "web:404" {
				cur = *rs.Spec.Replicas
			} else {
				old = *rs.Spec.Replicas
			}
		}
		return old, cur, fmt.Sprintf("old %d new %d", old, cur)
	}
	wltest.Eventually(t, 30*time.Second, func() (bool, string) {
		got, _ := dcl.Get(env.Ctx, "web", metav1.GetOptions{})
		return got.Status.AvailableReplicas == 10, fmt.Sprintf("%+v", got.Status)
	})
	env.Kubectl(t, "set", "image", "deployment/web", "web=web:404")
	wltest.Eventually(t, 30*time.Second, func() (bool, string) {
		old, cur, desc := sizes()
		return old == 8 && cur == 5, desc
	})
	env.Kubectl(t, "scale", "deployment/web", "--replicas=30")
	wltest.Eventually(t, 30*time.Second, func() (bool, string) {
		old, cur, desc := sizes()
		return old == 20 && cur == 13, desc + ", want old 20 new 13"
	})
}
