package daemonset

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/controllers/workloads/fakekubelet"
	"skiff/internal/controllers/workloads/wltest"
)

func nodesOf(pods []corev1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Spec.NodeName)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func TestDaemonSetCoversEveryNodeAndRolls(t *testing.T) {
	env := wltest.Start(t, wltest.Options{Nodes: []string{"node-a", "node-b"}}, New)
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "agent:v1"}}},
			},
		},
	}
	dsc := env.Client.AppsV1().DaemonSets(env.NS)
	if _, err := dsc.Create(env.Ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNodes := func(want, image string) {
		t.Helper()
		wltest.Eventually(t, 20*time.Second, func() (bool, string) {
			pods := env.Pods(t, "app=agent")
			for _, p := range pods {
				if p.Spec.Containers[0].Image != image || p.Status.Phase != corev1.PodRunning {
					return false, wltest.Describe(pods)
				}
			}
			got, _ := dsc.Get(env.Ctx, "agent", metav1.GetOptions{})
			n := int32(len(strings.Split(want, ",")))
			st := got.Status
			return nodesOf(pods) == want && st.NumberAvailable == n && st.DesiredNumberScheduled == n && st.UpdatedNumberScheduled == n,
				fmt.Sprintf("%s on %s; status %+v", wltest.Describe(pods), nodesOf(pods), st)
		})
	}
	waitNodes("node-a,node-b", "agent:v1")
	p := env.Pods(t, "app=agent")[0]
	terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || terms[0].MatchFields[0].Key != "metadata.name" || terms[0].MatchFields[0].Values[0] != p.Spec.NodeName {
		t.Errorf("pod %s not pinned to its node by affinity: %+v", p.Name, terms)
	}
	if len(p.Spec.Tolerations) < 6 {
		t.Errorf("daemon tolerations missing: %+v", p.Spec.Tolerations)
	}

	if err := fakekubelet.AddNode(env.Ctx, env.Client, "node-c"); err != nil {
		t.Fatal(err)
	}
	waitNodes("node-a,node-b,node-c", "agent:v1")

	env.Kubectl(t, "set", "image", "daemonset/agent", "agent=agent:v2")
	waitNodes("node-a,node-b,node-c", "agent:v2")
	env.Kubectl(t, "rollout", "status", "daemonset/agent", "--timeout=20s")
	env.Kubectl(t, "rollout", "undo", "daemonset/agent")
	waitNodes("node-a,node-b,node-c", "agent:v1")

	// A node that stops matching the selector loses its daemon.
	env.Kubectl(t, "patch", "daemonset/agent", "-p", `{"spec":{"template":{"spec":{"nodeSelector":{"kubernetes.io/hostname":"node-b"}}}}}`)
	waitNodes("node-b", "agent:v1")
}
