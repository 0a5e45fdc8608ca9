package apiserver_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"skiff/internal/testserver"
	"skiff/internal/vpa"
)

// TestVPAAdmission: the VPA kinds are served from the start, and a new pod its
// VPA's target selects gets the recommended requests (its limit keeps its ratio)
// unless the VPA is Off; other pods are left alone.
func TestVPAAdmission(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(srv.Config)
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}}}}}
	if _, err := srv.Client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createVPA(t, dyn, "web", autoscalingv1.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"})

	pod := func(name string, l map[string]string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "nginx", Image: "nginx", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{"cpu": resource.MustParse("100m"), "memory": resource.MustParse("64Mi")},
				Limits:   corev1.ResourceList{"memory": resource.MustParse("128Mi")}}}}}}
		got, err := srv.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := pod("selected", labels)
	r := got.Spec.Containers[0].Resources
	if r.Requests.Cpu().String() != "250m" || r.Requests.Memory().String() != "256Mi" || r.Limits.Memory().String() != "512Mi" {
		t.Errorf("selected pod resources %v, want 250m/256Mi with the limit at 512Mi", r)
	}
	if got.Annotations["vpaUpdates"] == "" {
		t.Error("no vpaUpdates annotation")
	}
	other := pod("other", map[string]string{"app": "db"})
	if other.Spec.Containers[0].Resources.Requests.Cpu().String() != "100m" {
		t.Errorf("a pod the VPA does not select was changed: %v", other.Spec.Containers[0].Resources)
	}

	// pods/resize changes resources and nothing else; the main resource cannot.
	patch := []byte(`{"spec":{"containers":[{"name":"nginx","resources":{"limits":{"memory":"1Gi"}}}],"activeDeadlineSeconds":5}}`)
	resized, err := srv.Client.CoreV1().Pods("default").Patch(ctx, "other", types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "resize")
	if err != nil {
		t.Fatal(err)
	}
	if resized.Spec.Containers[0].Resources.Limits.Memory().String() != "1Gi" || resized.Spec.ActiveDeadlineSeconds != nil {
		t.Errorf("after pods/resize: limits %v, activeDeadlineSeconds %v", resized.Spec.Containers[0].Resources.Limits, resized.Spec.ActiveDeadlineSeconds)
	}
	if _, err := srv.Client.CoreV1().Pods("default").Patch(ctx, "other", types.StrategicMergePatchType,
		[]byte(`{"spec":{"containers":[{"name":"nginx","resources":{"limits":{"memory":"2Gi"}}}]}}`), metav1.PatchOptions{}); err == nil {
		t.Error("an ordinary pod patch changed resources")
	}
}

// createVPA creates an Initial-mode VPA on target (once the server serves the VPA
// kinds) whose recommendation for container nginx is 250m and 256Mi.
func createVPA(t *testing.T, dyn dynamic.Interface, name string, target autoscalingv1.CrossVersionObjectReference) {
	t.Helper()
	ctx := context.Background()
	mode := vpa.UpdateModeInitial
	v := &vpa.VerticalPodAutoscaler{TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling.k8s.io/v1", Kind: "VerticalPodAutoscaler"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       vpa.Spec{TargetRef: &target, UpdatePolicy: &vpa.UpdatePolicy{UpdateMode: &mode}}}
	u, err := vpa.ToUnstructured(v)
	if err != nil {
		t.Fatal(err)
	}
	res := dyn.Resource(vpa.Resource).Namespace("default")
	// The CRDs the server installs at start are served once established.
	var createErr error
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		var created *unstructured.Unstructured
		created, createErr = res.Create(ctx, u, metav1.CreateOptions{})
		if createErr == nil {
			u = created
		}
		return createErr == nil, nil
	})
	if err != nil {
		t.Fatalf("creating a VPA: %v (last error: %v)", err, createErr)
	}
	rec := vpa.Recommendation{ContainerRecommendations: []vpa.ContainerRecommendation{{ContainerName: "nginx",
		Target: corev1.ResourceList{"cpu": resource.MustParse("250m"), "memory": resource.MustParse("256Mi")}}}}
	if err := unstructuredSet(u.Object, rec, "status", "recommendation"); err != nil {
		t.Fatal(err)
	}
	if _, err := res.UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestVPAAdmissionOnCustomResource: a VPA whose target is a custom resource finds its
// pods through the selector of the CRD's scale subresource.
func TestVPAAdmissionOnCustomResource(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(srv.Config)
	establish(t, ctx, apiextensionsclient.NewForConfigOrDie(srv.Config), widgetsCRD(t))
	widgets := dyn.Resource(schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}).Namespace("default")
	if _, err := widgets.Create(ctx, widget("w1", map[string]any{"size": "small", "replicas": int64(2)}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := widgets.Patch(ctx, "w1", types.MergePatchType, []byte(`{"status":{"replicas":2,"selector":"app=widget"}}`), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	createVPA(t, dyn, "widget", autoscalingv1.CrossVersionObjectReference{APIVersion: "example.com/v1", Kind: "Widget", Name: "w1"})
	pod := func(name, app string) corev1.ResourceRequirements {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": app}}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "nginx", Image: "nginx", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{"cpu": resource.MustParse("100m")}}}}}}
		got, err := srv.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return got.Spec.Containers[0].Resources
	}
	if r := pod("selected", "widget"); r.Requests.Cpu().String() != "250m" || r.Requests.Memory().String() != "256Mi" {
		t.Errorf("pod of the widget: requests %v, want the recommendation 250m/256Mi", r.Requests)
	}
	if r := pod("other", "db"); r.Requests.Cpu().String() != "100m" {
		t.Errorf("a pod the widget does not select was changed: %v", r.Requests)
	}
}

// unstructuredSet puts v (through JSON) at path in obj.
func unstructuredSet(obj map[string]any, v any, path ...string) error {
	u, err := vpa.ToUnstructured(v)
	if err != nil {
		return err
	}
	m := obj
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = u.Object
	return nil
}
