package nodeipam

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"skiff/internal/controllers/controller"
)

func TestFirstFree(t *testing.T) {
	rs, err := parseRanges("10.42.0.0/16, fd00:42::/56")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{"10.42.0.0/24": true, "10.42.1.0/24": true}
	if got, _ := firstFree(rs[0], used); got != "10.42.2.0/24" {
		t.Errorf("v4: %s, want 10.42.2.0/24", got)
	}
	if got, _ := firstFree(rs[1], map[string]bool{"fd00:42::/64": true}); got != "fd00:42:0:1::/64" {
		t.Errorf("v6: %s, want fd00:42:0:1::/64", got)
	}
	small, _ := parseRanges("10.0.0.0/23")
	if _, ok := firstFree(small[0], map[string]bool{"10.0.0.0/24": true, "10.0.1.0/24": true}); ok {
		t.Error("a full range handed out a subnet")
	}
	if _, err := parseRanges("10.0.0.0/25"); err == nil {
		t.Error("a range smaller than a /24 accepted")
	}
}

func TestControllerAssignsDistinctCIDRs(t *testing.T) {
	client := fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "b"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: corev1.NodeSpec{PodCIDR: "10.42.0.0/24", PodCIDRs: []string{"10.42.0.0/24"}}},
	)
	cc := controller.NewContext(client, 0)
	ctrl := New(cc, "10.42.0.0/16")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cc.Informers.Start(ctx.Done())
	go ctrl.Run(ctx)
	got := map[string]string{}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && len(got) < 3 {
		nodes, _ := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		for _, n := range nodes.Items {
			if n.Spec.PodCIDR != "" {
				got[n.Name] = n.Spec.PodCIDR
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got["c"] != "10.42.0.0/24" {
		t.Errorf("node c's existing CIDR changed to %q", got["c"])
	}
	seen := map[string]bool{}
	for n, c := range got {
		if seen[c] {
			t.Errorf("CIDR %s given twice (%v)", c, got)
		}
		seen[c] = true
		_ = n
	}
	if len(got) != 3 {
		t.Errorf("assigned %v, want all three nodes", got)
	}
}

// TestFullRangeFreedByDeletion: with more nodes than subnets, a node left
// without one gets the subnet of a node that is deleted.
func TestFullRangeFreedByDeletion(t *testing.T) {
	client := fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.NodeSpec{PodCIDR: "10.0.0.0/24", PodCIDRs: []string{"10.0.0.0/24"}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: corev1.NodeSpec{PodCIDR: "10.0.1.0/24", PodCIDRs: []string{"10.0.1.0/24"}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "c"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "d"}},
	)
	cc := controller.NewContext(client, 0)
	ctrl := New(cc, "10.0.0.0/23")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cc.Informers.Start(ctx.Done())
	go ctrl.Run(ctx)
	cidrOf := func(name string) string {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return n.Spec.PodCIDR
	}
	time.Sleep(300 * time.Millisecond) // c and d find the range full
	if cidrOf("c") != "" || cidrOf("d") != "" {
		t.Fatal("a node got a subnet of a full range")
	}
	if err := client.CoreV1().Nodes().Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, d := cidrOf("c"), cidrOf("d")
		if c != "" || d != "" {
			if c+d != "10.0.0.0/24" {
				t.Fatalf("after a's deletion c has %q and d %q; want one of them a's 10.0.0.0/24", c, d)
			}
			return
		}
		// A status update, as a kubelet makes, brings the node back to the controller.
		for _, name := range []string{"c", "d"} {
			n, _ := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			n.Labels = map[string]string{"beat": time.Now().Format("150405.000000")}
			_, _ = client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no node got the subnet a freed")
}
