package replicaset

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/controllers/workloads"
	"skiff/internal/controllers/workloads/wltest"
)

func template(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.25"}}},
	}
}

func readyCount(pods []corev1.Pod) int {
	n := 0
	for i := range pods {
		if workloads.IsPodReady(&pods[i]) {
			n++
		}
	}
	return n
}

func TestReplicaSetReplacesAndScales(t *testing.T) {
	env := wltest.Start(t, wltest.Options{}, New)
	n := int32(3)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.ReplicaSetSpec{Replicas: &n, Template: template("web"),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
	rsc := env.Client.AppsV1().ReplicaSets(env.NS)
	if _, err := rsc.Create(env.Ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitReady := func(want int) {
		t.Helper()
		wltest.Eventually(t, 20*time.Second, func() (bool, string) {
			pods := env.Pods(t, "app=web")
			got, _ := rsc.Get(env.Ctx, "web", metav1.GetOptions{})
			return len(pods) == want && readyCount(pods) == want && got.Status.ReadyReplicas == int32(want),
				fmt.Sprintf("%s; status %+v", wltest.Describe(pods), got.Status)
		})
	}
	waitReady(3)

	victim := env.Pods(t, "app=web")[0]
	if err := env.Client.CoreV1().Pods(env.NS).Delete(env.Ctx, victim.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	wltest.Eventually(t, 20*time.Second, func() (bool, string) {
		pods := env.Pods(t, "app=web")
		for _, p := range pods {
			if p.Name == victim.Name {
				return false, "victim still there"
			}
		}
		return len(pods) == 3 && readyCount(pods) == 3, wltest.Describe(pods)
	})

	for _, size := range []int32{10, 2} {
		got, err := rsc.Get(env.Ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got.Spec.Replicas = &size
		if _, err := rsc.Update(env.Ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitReady(int(size))
	}
	for _, p := range env.Pods(t, "app=web") {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.Kind != "ReplicaSet" || ref.Name != "web" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Errorf("pod %s owner %+v", p.Name, ref)
		}
	}
}

func TestReplicationControllerAdoptsAndReleases(t *testing.T) {
	env := wltest.Start(t, wltest.Options{}, NewReplicationController)
	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Labels: map[string]string{"app": "old"}},
		Spec: template("old").Spec}
	pc := env.Client.CoreV1().Pods(env.NS)
	if _, err := pc.Create(env.Ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n := int32(2)
	tmpl := template("old")
	rc := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "old"},
		Spec: corev1.ReplicationControllerSpec{Replicas: &n, Selector: map[string]string{"app": "old"}, Template: &tmpl}}
	if _, err := env.Client.CoreV1().ReplicationControllers(env.NS).Create(env.Ctx, rc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wltest.Eventually(t, 20*time.Second, func() (bool, string) {
		pods := env.Pods(t, "app=old")
		p, _ := pc.Get(env.Ctx, "orphan", metav1.GetOptions{})
		return len(pods) == 2 && metav1.GetControllerOf(p) != nil, wltest.Describe(pods)
	})
	// Relabelling a pod takes it out of the set: released, and replaced.
	p, _ := pc.Get(env.Ctx, "orphan", metav1.GetOptions{})
	p.Labels["app"] = "debug"
	if _, err := pc.Update(env.Ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wltest.Eventually(t, 20*time.Second, func() (bool, string) {
		pods := env.Pods(t, "app=old")
		p, _ := pc.Get(env.Ctx, "orphan", metav1.GetOptions{})
		got, _ := env.Client.CoreV1().ReplicationControllers(env.NS).Get(env.Ctx, "old", metav1.GetOptions{})
		return len(pods) == 2 && metav1.GetControllerOf(p) == nil && got.Status.ReadyReplicas == 2,
			fmt.Sprintf("%s; released=%v; status %+v", wltest.Describe(pods), metav1.GetControllerOf(p) == nil, got.Status)
	})
}
