package apiserver_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestChunkedListsAreOneSnapshot: kubectl lists in chunks and gets every object
// once, in order; the pages of a list show the namespace as it was at the first
// page, whatever is created meanwhile, and the next list shows the newcomer.
func TestChunkedListsAreOneSnapshot(t *testing.T) {
	n := ns(t, "chunks")
	cfg, err := clientcmd.BuildConfigFromFlags("", cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	create := func(name string) {
		t.Helper()
		if _, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := range 25 {
		name := fmt.Sprintf("cm-%02d", i)
		create(name)
		want = append(want, name)
	}
	out := cluster.MustKubectl(t, "-n", n, "get", "configmaps", "--chunk-size=10", "-o", "name")
	var got []string
	for _, l := range strings.Fields(out) {
		if name, ok := strings.CutPrefix(l, "configmap/cm-"); ok {
			got = append(got, "cm-"+name)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("kubectl --chunk-size=10 listed %v, want %v", got, want)
	}

	page, err := c.CoreV1().ConfigMaps(n).List(ctx, metav1.ListOptions{Limit: 10})
	if err != nil || page.Continue == "" || page.RemainingItemCount == nil {
		t.Fatalf("first page: %v (continue %q)", err, page.Continue)
	}
	total := len(page.Items) + int(*page.RemainingItemCount)
	create("cm-late")
	seen := len(page.Items)
	for page.Continue != "" {
		if page, err = c.CoreV1().ConfigMaps(n).List(ctx, metav1.ListOptions{Limit: 10, Continue: page.Continue}); err != nil {
			t.Fatal(err)
		}
		for _, cm := range page.Items {
			if cm.Name == "cm-late" {
				t.Fatal("a configmap created after the first page showed up in a later page")
			}
		}
		seen += len(page.Items)
	}
	if seen != total {
		t.Errorf("the pages held %d configmaps, the first page announced %d", seen, total)
	}
	all, err := c.CoreV1().ConfigMaps(n).List(ctx, metav1.ListOptions{})
	if err != nil || len(all.Items) != total+1 {
		t.Errorf("a new list has %d configmaps (%v), want %d", len(all.Items), err, total+1)
	}
}
