package apiserver_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/testserver"
)

// TestClusterIPsAreIPAddresses: every cluster IP a Service gets has an
// IPAddress naming the Service, gone with the Service; a dry run leaves none;
// an IPAddress made by hand reserves its address; and writing ServiceCIDRs and
// IPAddresses brings no "does not act" warning.
func TestClusterIPsAreIPAddresses(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	cfg := rest.CopyConfig(srv.Config)
	w := &warnings{}
	cfg.WarningHandler = w
	c := kubernetes.NewForConfigOrDie(cfg)
	svc := func(name, ip string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.ServiceSpec{ClusterIP: ip, Ports: []corev1.ServicePort{{Port: 80}}}}
	}

	created, err := c.CoreV1().Services("default").Create(ctx, svc("web", ""), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := c.NetworkingV1().IPAddresses().Get(ctx, created.Spec.ClusterIP, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the IPAddress of web's cluster IP %s: %v", created.Spec.ClusterIP, err)
	}
	want := networkingv1.ParentReference{Resource: "services", Namespace: "default", Name: "web"}
	if addr.Spec.ParentRef == nil || *addr.Spec.ParentRef != want || addr.Labels[networkingv1.LabelManagedBy] != "ipallocator.k8s.io" ||
		addr.Labels[networkingv1.LabelIPAddressFamily] != "IPv4" {
		t.Errorf("IPAddress %s: parentRef %+v labels %v, want services/default/web managed by ipallocator.k8s.io", addr.Name, addr.Spec.ParentRef, addr.Labels)
	}

	dry, err := c.CoreV1().Services("default").Create(ctx, svc("dry", ""), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil || dry.Spec.ClusterIP == "" {
		t.Fatalf("dry run: %v, cluster IP %q", err, dry.Spec.ClusterIP)
	}
	if _, err := c.NetworkingV1().IPAddresses().Get(ctx, dry.Spec.ClusterIP, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a dry run left IPAddress %s: %v", dry.Spec.ClusterIP, err)
	}

	if err := c.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NetworkingV1().IPAddresses().Get(ctx, created.Spec.ClusterIP, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("IPAddress %s after its Service was deleted: %v, want gone", created.Spec.ClusterIP, err)
	}

	reserved := &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "10.43.7.7"},
		Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Group: "example.com", Resource: "gateways", Name: "edge"}}}
	if _, err := c.NetworkingV1().IPAddresses().Create(ctx, reserved, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CoreV1().Services("default").Create(ctx, svc("wants-reserved", "10.43.7.7"), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "already allocated") ||
		len(err.(apierrors.APIStatus).Status().Details.Causes) == 0 || err.(apierrors.APIStatus).Status().Details.Causes[0].Field != "spec.clusterIPs" {
		t.Fatalf("a Service asking for a reserved address: %v, want 422 on spec.clusterIPs: already allocated", err)
	}
	if got, err := c.NetworkingV1().IPAddresses().Get(ctx, "10.43.7.7", metav1.GetOptions{}); err != nil || got.Spec.ParentRef.Name != "edge" {
		t.Errorf("the reserved IPAddress after the refusal: %+v %v, want it untouched", got, err)
	}

	sc := &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "extra"}, Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.44.0.0/24"}}}
	if _, err := c.NetworkingV1().ServiceCIDRs().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Services("default").Create(ctx, svc("in-extra", "10.44.0.20"), metav1.CreateOptions{}); err != nil {
		t.Errorf("a Service asking for an address of a new ServiceCIDR: %v", err)
	}
	if len(w.got) != 0 {
		t.Errorf("warnings: %q, want none", w.got)
	}
}
