package apiserver_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"skiff/internal/testserver"
)

// Requests that used to get a 500 or a silent 200 get the status naming what is wrong.
func TestBadRequestsAreRefusedWithTheirReason(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	cms := srv.Client.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, cm("x"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Run("patch changing kind or apiVersion", func(t *testing.T) {
		for _, p := range []struct{ patch, field string }{
			{`[{"op":"replace","path":"/kind","value":"Secret"}]`, "kind"},
			{`[{"op":"replace","path":"/apiVersion","value":"apps/v1"}]`, "apiVersion"},
		} {
			_, err := cms.Patch(ctx, "x", types.JSONPatchType, []byte(p.patch), metav1.PatchOptions{})
			if !apierrors.IsInvalid(err) || !hasCause(err, p.field) {
				t.Errorf("patch %s: %v, want 422 naming %s", p.patch, err, p.field)
			}
		}
		if _, err := cms.Patch(ctx, "x", types.MergePatchType, []byte(`{"kind":"Secret"}`), metav1.PatchOptions{}); !apierrors.IsInvalid(err) {
			t.Errorf("merge patch of kind: %v, want 422", err)
		}
		if got, _ := cms.Get(ctx, "x", metav1.GetOptions{}); got == nil || got.Data["k"] != "v" {
			t.Errorf("configmap after refused patches: %v", got)
		}
	})
	t.Run("object too large for etcd", func(t *testing.T) {
		// Nothing limits a container's arguments but etcd's request size.
		pts := srv.Client.CoreV1().PodTemplates("default")
		big := func(name string, size int) *corev1.PodTemplate {
			return &corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Name: name}, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "c", Image: "i", Args: []string{strings.Repeat("x", size)}}}}}}
		}
		for _, dry := range [][]string{nil, {metav1.DryRunAll}} {
			_, err := pts.Create(ctx, big("big", 2<<20), metav1.CreateOptions{DryRun: dry})
			if !apierrors.IsRequestEntityTooLargeError(err) || !strings.Contains(err.Error(), "Request entity too large") {
				t.Errorf("create of a 2 MiB pod template (dryRun %v): %v, want 413", dry, err)
			}
		}
		if _, err := pts.Get(ctx, "big", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("refused pod template exists: %v", err)
		}
		if _, err := pts.Create(ctx, big("small", 10), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		grow := []byte(`{"template":{"spec":{"containers":[{"name":"c","args":["` + strings.Repeat("y", 2<<20) + `"]}]}}}`)
		if _, err := pts.Patch(ctx, "small", types.StrategicMergePatchType, grow, metav1.PatchOptions{}); !apierrors.IsRequestEntityTooLargeError(err) {
			t.Errorf("patch growing a pod template to 2 MiB: %v, want 413", err)
		}
	})
	t.Run("TRACE and a bad limit", func(t *testing.T) {
		rt, err := rest.TransportFor(srv.Config)
		if err != nil {
			t.Fatal(err)
		}
		c := &http.Client{Transport: rt}
		for _, tc := range []struct {
			method, path string
			want         int
		}{
			{"TRACE", "/api/v1/namespaces/default/configmaps", http.StatusMethodNotAllowed},
			{"TRACE", "/healthz", http.StatusMethodNotAllowed},
			{"GET", "/api/v1/namespaces/default/configmaps?limit=abc", http.StatusBadRequest},
			{"GET", "/api/v1/namespaces/default/configmaps?limit=1", http.StatusOK},
		} {
			req, _ := http.NewRequest(tc.method, srv.Config.Host+tc.path, nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
			}
		}
	})
}

func hasCause(err error, field string) bool {
	var se *apierrors.StatusError
	if !errors.As(err, &se) || se.ErrStatus.Details == nil {
		return false
	}
	for _, c := range se.ErrStatus.Details.Causes {
		if c.Field == field {
			return true
		}
	}
	return false
}
