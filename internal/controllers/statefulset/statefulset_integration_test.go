package statefulset

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"skiff/internal/controllers/workloads"
	"skiff/internal/controllers/workloads/fakekubelet"
	"skiff/internal/controllers/workloads/wltest"
)

func mongo(n int32) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "mongodb"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &n,
			ServiceName: "mongodb",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "mongodb"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "mongodb"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "mongodb", Image: "mongo:6",
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data/db"}}}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
}

// orderLog records, from a pod watch, the order pods appeared and started going, and
// any pod that appeared before its predecessor was Running and Ready.
type orderLog struct {
	mu         sync.Mutex
	state      map[string]*corev1.Pod
	created    []string
	deleted    []string
	violations []string
}

func watchOrder(t *testing.T, env *wltest.Env) *orderLog {
	w, err := env.Client.CoreV1().Pods(env.NS).Watch(env.Ctx, metav1.ListOptions{LabelSelector: "app=mongodb"})
	if err != nil {
		t.Fatal(err)
	}
	l := &orderLog{state: map[string]*corev1.Pod{}}
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			l.mu.Lock()
			prev := l.state[p.Name]
			switch {
			case ev.Type == watch.Added:
				l.created = append(l.created, p.Name)
				if i := strings.LastIndex(p.Name, "-"); p.Name[i+1:] != "0" {
					pred := fmt.Sprintf("mongodb-%d", int(p.Name[i+1]-'0')-1)
					if q := l.state[pred]; q == nil || !workloads.IsPodRunningAndReady(q) {
						l.violations = append(l.violations, p.Name+" before "+pred+" was ready")
					}
				}
			case p.DeletionTimestamp != nil && (prev == nil || prev.DeletionTimestamp == nil):
				l.deleted = append(l.deleted, p.Name)
			}
			if ev.Type == watch.Deleted {
				delete(l.state, p.Name)
			} else {
				l.state[p.Name] = p
			}
			l.mu.Unlock()
		}
	}()
	return l
}

func TestStatefulSetOrderedCreateScaleDownAndUpdate(t *testing.T) {
	slow := func(*corev1.Pod) fakekubelet.Outcome {
		return fakekubelet.Outcome{Phase: corev1.PodRunning, Delay: 300 * time.Millisecond}
	}
	env := wltest.Start(t, wltest.Options{Outcome: slow}, New)
	log := watchOrder(t, env)
	sts := env.Client.AppsV1().StatefulSets(env.NS)
	if _, err := sts.Create(env.Ctx, mongo(3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wltest.Eventually(t, 20*time.Second, func() (bool, string) {
		s, _ := sts.Get(env.Ctx, "mongodb", metav1.GetOptions{})
		return s.Status.ReadyReplicas == 3, fmt.Sprintf("%+v", s.Status)
	})
	log.mu.Lock()
	if got := strings.Join(log.created, ","); got != "mongodb-0,mongodb-1,mongodb-2" {
		t.Errorf("created %s", got)
	}
	if len(log.violations) > 0 {
		t.Errorf("OrderedReady broken: %v", log.violations)
	}
	log.mu.Unlock()
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("data-mongodb-%d", i)
		if _, err := env.Client.CoreV1().PersistentVolumeClaims(env.NS).Get(env.Ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("claim %s: %v", name, err)
		}
		p, _ := env.Client.CoreV1().Pods(env.NS).Get(env.Ctx, fmt.Sprintf("mongodb-%d", i), metav1.GetOptions{})
		if p.Spec.Hostname != p.Name || p.Spec.Subdomain != "mongodb" || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != name {
			t.Errorf("pod %s: hostname %q subdomain %q volumes %+v", p.Name, p.Spec.Hostname, p.Spec.Subdomain, p.Spec.Volumes)
		}
	}

	env.Kubectl(t, "scale", "statefulset/mongodb", "--replicas=1")
	wltest.Eventually(t, 20*time.Second, func() (bool, string) {
		pods := env.Pods(t, "app=mongodb")
		return len(pods) == 1 && pods[0].Name == "mongodb-0", wltest.Describe(pods)
	})
	log.mu.Lock()
	if got := strings.Join(log.deleted, ","); got != "mongodb-2,mongodb-1" {
		t.Errorf("deleted %s, want mongodb-2,mongodb-1", got)
	}
	log.mu.Unlock()
	if _, err := env.Client.CoreV1().PersistentVolumeClaims(env.NS).Get(env.Ctx, "data-mongodb-2", metav1.GetOptions{}); err != nil {
		t.Errorf("claims are retained on scale-down by default: %v", err)
	}

	env.Kubectl(t, "scale", "statefulset/mongodb", "--replicas=3")
	env.Kubectl(t, "set", "image", "statefulset/mongodb", "mongodb=mongo:7")
	env.Kubectl(t, "rollout", "status", "statefulset/mongodb", "--timeout=30s")
	s, _ := sts.Get(env.Ctx, "mongodb", metav1.GetOptions{})
	if s.Status.CurrentRevision != s.Status.UpdateRevision || s.Status.UpdatedReplicas != 3 {
		t.Errorf("rollout not finished: %+v", s.Status)
	}
	for _, p := range env.Pods(t, "app=mongodb") {
		if p.Spec.Containers[0].Image != "mongo:7" || p.Labels[revisionLabel] != s.Status.UpdateRevision {
			t.Errorf("pod %s image %s revision %s", p.Name, p.Spec.Containers[0].Image, p.Labels[revisionLabel])
		}
	}
	if out := env.Kubectl(t, "rollout", "history", "statefulset/mongodb"); !strings.Contains(out, "2 ") {
		t.Errorf("history:\n%s", out)
	}
	env.Kubectl(t, "rollout", "undo", "statefulset/mongodb")
	env.Kubectl(t, "rollout", "status", "statefulset/mongodb", "--timeout=30s")
	for _, p := range env.Pods(t, "app=mongodb") {
		if p.Spec.Containers[0].Image != "mongo:6" {
			t.Errorf("after undo pod %s runs %s", p.Name, p.Spec.Containers[0].Image)
		}
	}
}

// TestStatefulSetRestoresIdentity: a pod that lost its identity labels gets them
// back, though the controller's informer holds pods without their whole spec
// (controller.SlimPods), which it must not write back.
func TestStatefulSetRestoresIdentity(t *testing.T) {
	env := wltest.Start(t, wltest.Options{}, New)
	sts := env.Client.AppsV1().StatefulSets(env.NS)
	if _, err := sts.Create(env.Ctx, mongo(1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wltest.Eventually(t, 20*time.Second, func() (bool, string) {
		s, _ := sts.Get(env.Ctx, "mongodb", metav1.GetOptions{})
		return s.Status.ReadyReplicas == 1, fmt.Sprintf("%+v", s.Status)
	})
	patch := []byte(`[{"op":"remove","path":"/metadata/labels/statefulset.kubernetes.io~1pod-name"}]`)
	if _, err := env.Client.CoreV1().Pods(env.NS).Patch(env.Ctx, "mongodb-0", types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	wltest.Eventually(t, 20*time.Second, func() (bool, string) {
		p, err := env.Client.CoreV1().Pods(env.NS).Get(env.Ctx, "mongodb-0", metav1.GetOptions{})
		return err == nil && p.Labels[podNameLabel] == "mongodb-0" && p.Spec.Containers[0].VolumeMounts != nil, fmt.Sprintf("%v", p)
	})
}
