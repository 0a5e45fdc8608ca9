package clusterautoscaler

import (
	"context"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/controllers/controller"
	"skiff/internal/nodepool"
)

// TestScanScalesUpOnce runs one scan over a fake API: 30 unschedulable pods need a
// second small node, written to desired in one update, and the status says so.
func TestScanScalesUpOnce(t *testing.T) {
	small := pool("small", "2", "4Gi", 1, 5)
	cm := &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: nodepool.ConfigMapName, Namespace: nodepool.Namespace}}
	if err := nodepool.Encode(cm, []nodepool.Pool{small}); err != nil {
		t.Fatal(err)
	}
	objs := []runtime.Object{cm, small.Template("small-0")}
	for _, p := range pods("a", 30, "100m", "128Mi") {
		p.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: v1.PodReasonUnschedulable}}
		objs = append(objs, p)
	}
	client := fake.NewClientset(objs...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cc := controller.NewContext(client, 0)
	c := New(cc)
	cc.Informers.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		t.Fatal("caches")
	}
	if err := c.scan(ctx, cm); err != nil {
		t.Fatal(err)
	}
	got, _ := client.CoreV1().ConfigMaps(nodepool.Namespace).Get(ctx, nodepool.ConfigMapName, metav1.GetOptions{})
	// small-0 takes 20 pods (2 cpu), the other 10 need one more node.
	if got.Data["desired.small"] != "2" {
		t.Errorf("desired.small = %q, want 2", got.Data["desired.small"])
	}
	st, err := client.CoreV1().ConfigMaps(nodepool.Namespace).Get(ctx, statusConfigMap, metav1.GetOptions{})
	if err != nil || !strings.Contains(st.Data["status"], "InProgress: small 1->2 for 10 pods") {
		t.Errorf("status %v: %v", st, err)
	}
	// The pool is now growing: a second scan must not add another node.
	c.now = func() time.Time { return time.Now().Add(time.Minute) }
	if err := c.scan(ctx, got); err != nil {
		t.Fatal(err)
	}
	again, _ := client.CoreV1().ConfigMaps(nodepool.Namespace).Get(ctx, nodepool.ConfigMapName, metav1.GetOptions{})
	if again.Data["desired.small"] != "2" {
		t.Errorf("second scan: desired.small = %q, want 2", again.Data["desired.small"])
	}
}
