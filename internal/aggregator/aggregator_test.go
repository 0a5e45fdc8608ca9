package aggregator_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregatorclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	"skiff/internal/testserver"
)

// TestAPIServiceWithoutEndpoints: an APIService whose Service has no ready endpoint
// answers 503 with the reason, is not Available, and its group is listed in /apis.
// (The e2e test in test/e2e/node proxies to a real pod.)
func TestAPIServiceWithoutEndpoints(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "default"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 443, TargetPort: intstr.FromInt32(8443)}}}}
	if _, err := srv.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	agg := aggregatorclient.NewForConfigOrDie(srv.Config).ApiregistrationV1().APIServices()
	as := &apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: "v1alpha1.echo.example.com"},
		Spec: apiregistrationv1.APIServiceSpec{Group: "echo.example.com", Version: "v1alpha1",
			Service:               &apiregistrationv1.ServiceReference{Namespace: "default", Name: "echo"},
			InsecureSkipTLSVerify: true, GroupPriorityMinimum: 1000, VersionPriority: 15},
	}
	if _, err := agg.Create(ctx, as, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rt, err := rest.TransportFor(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	var code int
	var body []byte
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := (&http.Client{Transport: rt}).Get(srv.Config.Host + "/apis/echo.example.com/v1alpha1")
		if err != nil {
			t.Fatal(err)
		}
		code = resp.StatusCode
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if code == http.StatusServiceUnavailable {
			break
		}
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), `no endpoints available for service \"echo\"`) {
		t.Errorf("request for the aggregated group/version: %d %s, want 503 naming the missing endpoints", code, body)
	}
	var got *apiregistrationv1.APIService
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if got, err = agg.Get(ctx, as.Name, metav1.GetOptions{}); err == nil && len(got.Status.Conditions) > 0 {
			break
		}
	}
	if got == nil || len(got.Status.Conditions) == 0 || got.Status.Conditions[0].Status != apiregistrationv1.ConditionFalse ||
		got.Status.Conditions[0].Reason != "MissingEndpoints" {
		t.Errorf("Available condition: %+v %v", got, err)
	}
	groups, err := srv.Client.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(groups.Groups, func(g metav1.APIGroup) bool { return g.Name == "echo.example.com" }) {
		t.Errorf("/apis does not list the aggregated group")
	}
	// metrics.k8s.io stays skiff's own.
	if _, err := srv.Client.Discovery().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1").DoRaw(ctx); err != nil {
		t.Errorf("metrics.k8s.io: %v", err)
	}
	// skiff's own group/versions are listed as Local APIServices.
	for _, name := range []string{"v1.", "v1.apps", "v1beta1.metrics.k8s.io", "v1.apiregistration.k8s.io"} {
		var local *apiregistrationv1.APIService
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
			if local, err = agg.Get(ctx, name, metav1.GetOptions{}); err == nil && len(local.Status.Conditions) > 0 {
				break
			}
		}
		if err != nil || local.Spec.Service != nil || len(local.Status.Conditions) == 0 || local.Status.Conditions[0].Reason != "Local" {
			t.Errorf("local APIService %s: %+v %v", name, local, err)
		}
	}
	// A bad APIService is refused with kube-aggregator's validation.
	bad := as.DeepCopy()
	bad.Name, bad.ResourceVersion = "v2.echo.example.com", ""
	if _, err := agg.Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.name") {
		t.Errorf("APIService whose name is not version.group: %v", err)
	}
}
