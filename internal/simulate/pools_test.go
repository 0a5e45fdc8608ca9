package simulate

import (
	"context"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/nodepool"
)

// TestPoolsFollowDesired publishes a pool, then grows it to the desired size and
// shrinks it again, deleting the node the autoscaler tainted first.
func TestPoolsFollowDesired(t *testing.T) {
	o, err := ParseFlags([]string{"--nodes", "0", "--pool", "name=small,cpu=2,memory=4Gi,min=1,max=5"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	client := fake.NewClientset()
	s := &simulator{client: client, opts: o, ours: map[string]int{}, nextIP: map[string]int{}}
	if err := s.publishPools(ctx); err != nil {
		t.Fatal(err)
	}
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	lister := corelisters.NewNodeLister(indexer)
	resize := func(desired string) []string {
		cms := client.CoreV1().ConfigMaps(nodepool.Namespace)
		cm, _ := cms.Get(ctx, nodepool.ConfigMapName, metav1.GetOptions{})
		if desired != "" {
			cm.Data["desired.small"] = desired
			if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.resizePools(ctx, lister); err != nil {
			t.Fatal(err)
		}
		list, _ := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		var names []string
		for _, n := range list.Items {
			names = append(names, n.Name)
			_ = indexer.Add(n.DeepCopy())
		}
		return names
	}
	if got := resize(""); len(got) != 1 || got[0] != "sim-small-0" {
		t.Fatalf("at min: %v", got)
	}
	if got := resize("3"); len(got) != 3 {
		t.Fatalf("desired 3: %v", got)
	}
	n, _ := client.CoreV1().Nodes().Get(ctx, "sim-small-1", metav1.GetOptions{})
	if n.Labels[nodepool.Label] != "small" || n.Status.Allocatable.Cpu().Value() != 2 {
		t.Errorf("pool node %+v", n)
	}
	n.Spec.Taints = append(n.Spec.Taints, v1.Taint{Key: nodepool.ToBeDeletedTaint, Effect: v1.TaintEffectNoSchedule})
	_ = indexer.Update(n)
	if got := resize("2"); len(got) != 2 || got[0] == "sim-small-1" || got[1] == "sim-small-1" {
		t.Fatalf("desired 2 after tainting sim-small-1: %v", got)
	}
}
