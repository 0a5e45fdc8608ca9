package apiserver_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"skiff/internal/testserver"
)

// TestDeleteOptionsBody: a DELETE carries DeleteOptions in its body in whatever group
// version the client speaks, as typed clients of custom resources send it
// (example.com/v1 here), and in protobuf from built-in clients; the options in it
// act (a dry run deletes nothing), and a body of another kind is a 400.
func TestDeleteOptionsBody(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	establish(t, ctx, apiextensionsclient.NewForConfigOrDie(srv.Config), widgetsCRD(t))
	widgets := dynamic.NewForConfigOrDie(srv.Config).Resource(widgetsGVR).Namespace("default")
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := widgets.Create(ctx, widget("w", map[string]interface{}{"size": "small"}), metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	del := func(body string) error {
		return srv.Client.CoreV1().RESTClient().Delete().
			AbsPath("/apis/example.com/v1/namespaces/default/widgets/w").
			SetHeader("Content-Type", runtime.ContentTypeJSON).Body([]byte(body)).Do(ctx).Error()
	}
	if err := del(`{"kind":"DeleteOptions","apiVersion":"example.com/v1","dryRun":["All"]}`); err != nil {
		t.Fatalf("dry-run delete with example.com/v1 options: %v", err)
	}
	if _, err := widgets.Get(ctx, "w", metav1.GetOptions{}); err != nil {
		t.Fatalf("a dry-run delete removed the widget: %v", err)
	}
	if err := del(`{"kind":"Widget","apiVersion":"example.com/v1"}`); !apierrors.IsBadRequest(err) {
		t.Errorf("delete with a Widget for options: %v, want 400", err)
	}
	if err := del(`{"kind":"DeleteOptions","apiVersion":"example.com/v1","propagationPolicy":"Background"}`); err != nil {
		t.Fatalf("delete with example.com/v1 options: %v", err)
	}
	if _, err := widgets.Get(ctx, "w", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("widget after delete: %v", err)
	}

	cfg := *srv.Config
	cfg.ContentType = runtime.ContentTypeProtobuf
	cms := kubernetes.NewForConfigOrDie(&cfg).CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "kept", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("dry-run delete with protobuf options: %v", err)
	}
	if _, err := cms.Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Errorf("a dry-run delete in protobuf removed the config map: %v", err)
	}
}
