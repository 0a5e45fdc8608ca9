package resourcequota_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/resourcequota"
	"skiff/internal/testserver"
)

func TestControllerGivesBackWhatDeletesFree(t *testing.T) {
	srv := testserver.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := srv.Client
	hard := corev1.ResourceList{"pods": resource.MustParse("5"), "count/deployments.apps": resource.MustParse("2"), "configmaps": resource.MustParse("10")}
	rq := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "team"}, Spec: corev1.ResourceQuotaSpec{Hard: hard}}
	if _, err := c.CoreV1().ResourceQuotas("default").Create(ctx, rq, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Objects that exist before the controller starts, as after a restart.
	for i := range 3 {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "skiff.local/pause"}}}}
		if _, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Spec: appsv1.DeploymentSpec{
		Replicas: new(int32), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "skiff.local/pause"}}}}}}
	if _, err := c.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	md := metadata.NewForConfigOrDie(srv.Config)
	cc := controller.NewContext(c, 0)
	ctl := resourcequota.New(cc, md, c.Discovery())
	cc.Informers.Start(ctx.Done())
	go ctl.Run(ctx)

	waitUsed(t, c.CoreV1().ResourceQuotas("default"), "team", map[corev1.ResourceName]int64{"pods": 3, "count/deployments.apps": 1})
	// Counted by a metadata informer started for the quota: its delete alone recounts.
	if err := c.AppsV1().Deployments("default").Delete(ctx, "d", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUsed(t, c.CoreV1().ResourceQuotas("default"), "team", map[corev1.ResourceName]int64{"pods": 3, "count/deployments.apps": 0})
	for _, name := range []string{"p0", "p1"} {
		if err := c.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
			t.Fatal(err)
		}
	}
	waitUsed(t, c.CoreV1().ResourceQuotas("default"), "team", map[corev1.ResourceName]int64{"pods": 1})
}

// The controller counts ResourceClaims with the devices they ask for (and gives
// them back when a claim is deleted), and moves a pod given an active deadline from
// NotTerminating quotas to Terminating ones.
func TestControllerFollowsDeviceClaimsAndScopeChanges(t *testing.T) {
	srv := testserver.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := srv.Client
	claims := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "claims"}, Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
		"count/resourceclaims.resource.k8s.io": resource.MustParse("5"), "gold.deviceclass.resource.k8s.io/devices": resource.MustParse("5")}}}
	scoped := func(name string, scope corev1.ResourceQuotaScope) *corev1.ResourceQuota {
		return &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ResourceQuotaSpec{
			Hard: corev1.ResourceList{"pods": resource.MustParse("5")},
			ScopeSelector: &corev1.ScopeSelector{MatchExpressions: []corev1.ScopedResourceSelectorRequirement{
				{ScopeName: scope, Operator: corev1.ScopeSelectorOpExists}}}}}
	}
	for _, rq := range []*corev1.ResourceQuota{claims, scoped("terminating", corev1.ResourceQuotaScopeTerminating),
		scoped("long-running", corev1.ResourceQuotaScopeNotTerminating)} {
		if _, err := c.CoreV1().ResourceQuotas("default").Create(ctx, rq, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	claim := &resourcev1.ResourceClaim{ObjectMeta: metav1.ObjectMeta{Name: "gpu"}, Spec: resourcev1.ResourceClaimSpec{
		Devices: resourcev1.DeviceClaim{Requests: []resourcev1.DeviceRequest{{Name: "r",
			Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: "gold", Count: 2}}}}}}
	if _, err := c.ResourceV1().ResourceClaims("default").Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "skiff.local/pause"}}}}
	if _, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cc := controller.NewContext(c, 0)
	ctl := resourcequota.New(cc, metadata.NewForConfigOrDie(srv.Config), c.Discovery())
	cc.Informers.Start(ctx.Done())
	go ctl.Run(ctx)

	qs := c.CoreV1().ResourceQuotas("default")
	waitUsed(t, qs, "claims", map[corev1.ResourceName]int64{"count/resourceclaims.resource.k8s.io": 1, "gold.deviceclass.resource.k8s.io/devices": 2})
	waitUsed(t, qs, "long-running", map[corev1.ResourceName]int64{"pods": 1})
	waitUsed(t, qs, "terminating", map[corev1.ResourceName]int64{"pods": 0})

	if err := c.ResourceV1().ResourceClaims("default").Delete(ctx, "gpu", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUsed(t, qs, "claims", map[corev1.ResourceName]int64{"count/resourceclaims.resource.k8s.io": 0, "gold.deviceclass.resource.k8s.io/devices": 0})

	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := c.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{})
		if err != nil {
			return err
		}
		p.Spec.ActiveDeadlineSeconds = ptr.To(int64(3600))
		_, err = c.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitUsed(t, qs, "long-running", map[corev1.ResourceName]int64{"pods": 0})
	waitUsed(t, qs, "terminating", map[corev1.ResourceName]int64{"pods": 1})
}

type quotaGetter interface {
	Get(context.Context, string, metav1.GetOptions) (*corev1.ResourceQuota, error)
}

func waitUsed(t *testing.T, qs quotaGetter, name string, want map[corev1.ResourceName]int64) {
	t.Helper()
	var last *corev1.ResourceQuota
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		q, err := qs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = q
		for name, v := range want {
			if got, ok := q.Status.Used[name]; !ok || got.Value() != v {
				return false, nil
			}
		}
		return len(q.Status.Hard) == len(q.Spec.Hard), nil
	})
	if err != nil {
		t.Fatalf("quota %s: status %+v, want used %v: %v", name, last.Status, want, err)
	}
}
