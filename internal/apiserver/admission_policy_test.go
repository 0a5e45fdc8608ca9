package apiserver_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/testserver"
)

func policyPod(name string, res corev1.ResourceRequirements) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "skiff.local/pause", Resources: res}}}}
}

func createQuota(t *testing.T, c kubernetes.Interface, ns, name string, hard corev1.ResourceList) {
	t.Helper()
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ResourceQuotaSpec{Hard: hard}}
	if _, err := c.CoreV1().ResourceQuotas(ns).Create(context.Background(), q, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestQuotaRefusesThePodOverTheLimit(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	createQuota(t, srv.Client, "default", "pods", corev1.ResourceList{"pods": resource.MustParse("1")})
	pods := srv.Client.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, policyPod("a", corev1.ResourceRequirements{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A dry run is judged but not charged.
	if _, err := pods.Create(ctx, policyPod("dry", corev1.ResourceRequirements{}), metav1.CreateOptions{DryRun: []string{"All"}}); !apierrors.IsForbidden(err) {
		t.Fatalf("dry-run second pod: got %v, want Forbidden", err)
	}
	_, err := pods.Create(ctx, policyPod("b", corev1.ResourceRequirements{}), metav1.CreateOptions{})
	want := `pods "b" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("second pod: got %v, want %q", err, want)
	}
	q, err := srv.Client.CoreV1().ResourceQuotas("default").Get(ctx, "pods", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if used := q.Status.Used["pods"]; used.Value() != 1 {
		t.Errorf("status.used.pods = %s, want 1", used.String())
	}
}

func TestQuotaHoldsUnderConcurrentCreates(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	createQuota(t, srv.Client, "default", "ten", corev1.ResourceList{"pods": resource.MustParse("10")})
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := srv.Client.CoreV1().Pods("default").Create(ctx, policyPod(fmt.Sprintf("p%d", i), corev1.ResourceRequirements{}), metav1.CreateOptions{})
			switch {
			case err == nil:
				ok.Add(1)
			case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "exceeded quota: ten"):
				refused.Add(1)
			default:
				t.Errorf("create p%d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	list, err := srv.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ok.Load() != 10 || refused.Load() != 10 || len(list.Items) != 10 {
		t.Errorf("created %d, refused %d, stored %d; want 10, 10, 10", ok.Load(), refused.Load(), len(list.Items))
	}
}

func TestQuotaOnCPURequiresRequests(t *testing.T) {
	srv := testserver.Start(t)
	createQuota(t, srv.Client, "default", "compute", corev1.ResourceList{"requests.cpu": resource.MustParse("1")})
	_, err := srv.Client.CoreV1().Pods("default").Create(context.Background(), policyPod("nocpu", corev1.ResourceRequirements{}), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "failed quota: compute: must specify requests.cpu for: c") {
		t.Fatalf("got %v, want the must-specify refusal", err)
	}
	big := corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": resource.MustParse("2")}}
	_, err = srv.Client.CoreV1().Pods("default").Create(context.Background(), policyPod("big", big), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "requested: requests.cpu=2, used: requests.cpu=0, limited: requests.cpu=1") {
		t.Fatalf("got %v, want exceeded requests.cpu", err)
	}
}

func TestQuotaOnUnservedResourceWarns(t *testing.T) {
	srv := testserver.Start(t)
	var warnings []string
	cfg := rest.CopyConfig(srv.Config)
	cfg.WarningHandler = warningFunc(func(m string) { warnings = append(warnings, m) })
	c := kubernetes.NewForConfigOrDie(cfg)
	createQuota(t, c, "default", "widgets", corev1.ResourceList{"count/widgets.example.com": resource.MustParse("1")})
	if len(warnings) != 1 || !strings.Contains(warnings[0], "count/widgets.example.com") {
		t.Errorf("warnings = %q, want one naming count/widgets.example.com", warnings)
	}
	// The quota must not get in the way of anything else.
	if _, err := c.CoreV1().ConfigMaps("default").Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

type warningFunc func(string)

func (f warningFunc) HandleWarningHeader(_ int, _ string, m string) { f(m) }

func TestLimitRangeDefaultsAndRefuses(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "lr"}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type:           corev1.LimitTypeContainer,
		Max:            corev1.ResourceList{"cpu": resource.MustParse("1")},
		Default:        corev1.ResourceList{"cpu": resource.MustParse("500m")},
		DefaultRequest: corev1.ResourceList{"cpu": resource.MustParse("100m")},
	}}}}
	if _, err := srv.Client.CoreV1().LimitRanges("default").Create(ctx, lr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := srv.Client.CoreV1().Pods("default").Create(ctx, policyPod("d", corev1.ResourceRequirements{}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := got.Spec.Containers[0].Resources
	if r.Requests.Cpu().String() != "100m" || r.Limits.Cpu().String() != "500m" {
		t.Errorf("defaults: requests %v limits %v, want cpu 100m/500m", r.Requests, r.Limits)
	}
	big := corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": resource.MustParse("2")}}
	_, err = srv.Client.CoreV1().Pods("default").Create(ctx, policyPod("big", big), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "maximum cpu usage per Container is 1, but limit is 2") {
		t.Fatalf("got %v, want the max refusal", err)
	}
}

func TestPodSecurityEnforcesAndWarns(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	var warnings []string
	cfg := rest.CopyConfig(srv.Config)
	cfg.WarningHandler = warningFunc(func(m string) { warnings = append(warnings, m) })
	c := kubernetes.NewForConfigOrDie(cfg)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "locked", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}
	if _, err := c.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	priv := policyPod("priv", corev1.ResourceRequirements{})
	yes := true
	priv.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &yes}
	_, err := c.CoreV1().Pods("locked").Create(ctx, priv, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `violates PodSecurity "restricted:latest": privileged`) {
		t.Fatalf("got %v, want the restricted refusal", err)
	}
	// Workloads are warned, not refused: their pods are what enforce judges.
	warnings = nil
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}}, Spec: priv.Spec}}}
	if _, err := c.AppsV1().Deployments("locked").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatalf("a deployment with a privileged template was refused: %v", err)
	}
	if len(warnings) == 0 || !strings.Contains(warnings[0], `would violate PodSecurity "restricted:latest": privileged`) {
		t.Errorf("deployment warnings = %q, want the restricted warning", warnings)
	}
	warned := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "warned", Labels: map[string]string{"pod-security.kubernetes.io/warn": "baseline"}}}
	if _, err := c.CoreV1().Namespaces().Create(ctx, warned, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	warnings = nil
	if _, err := c.CoreV1().Pods("warned").Create(ctx, priv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(warnings) == 0 || !strings.Contains(warnings[0], `would violate PodSecurity "baseline:latest": privileged`) {
		t.Errorf("warnings = %q, want the baseline warning", warnings)
	}
}
