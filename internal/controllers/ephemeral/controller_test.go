package ephemeral

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"skiff/internal/controllers/controller"
)

func pod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "app", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{Volumes: []corev1.Volume{
			{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
				VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"from": "template"}},
					Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
				}}}},
			{Name: "plain", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		}},
	}
}

func start(t *testing.T, objs ...any) (*fake.Clientset, *Controller) {
	t.Helper()
	client := fake.NewClientset()
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Pod:
			_, _ = client.CoreV1().Pods(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
		case *corev1.PersistentVolumeClaim:
			_, _ = client.CoreV1().PersistentVolumeClaims(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
		}
	}
	cc := controller.NewContext(client, time.Minute)
	ec := New(cc)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cc.Informers.Start(ctx.Done())
	cc.Informers.WaitForCacheSync(ctx.Done())
	return client, ec
}

func TestCreatesTheClaimOwnedByThePod(t *testing.T) {
	p := pod("web")
	client, ec := start(t, p)
	if err := ec.sync(context.Background(), "app/web"); err != nil {
		t.Fatal(err)
	}
	claims, _ := client.CoreV1().PersistentVolumeClaims("app").List(context.Background(), metav1.ListOptions{})
	if len(claims.Items) != 1 {
		t.Fatalf("claims = %v, want one", claims.Items)
	}
	c := claims.Items[0]
	if c.Name != "web-scratch" || !metav1.IsControlledBy(&c, p) || c.Labels["from"] != "template" ||
		c.Spec.Resources.Requests.Storage().String() != "1Gi" {
		t.Errorf("claim = %s owners %v labels %v spec %v", c.Name, c.OwnerReferences, c.Labels, c.Spec)
	}
}

func TestLeavesAClaimItDoesNotOwnAlone(t *testing.T) {
	squatter := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "web-scratch", Namespace: "app", Labels: map[string]string{"mine": "yes"}}}
	client, ec := start(t, pod("web"), squatter)
	if err := ec.sync(context.Background(), "app/web"); err != nil {
		t.Fatal(err)
	}
	c, err := client.CoreV1().PersistentVolumeClaims("app").Get(context.Background(), "web-scratch", metav1.GetOptions{})
	if err != nil || c.Labels["mine"] != "yes" || len(c.OwnerReferences) != 0 {
		t.Errorf("the existing claim was changed: %v %v", c, err)
	}
}

func TestTerminatingPodGetsNoClaim(t *testing.T) {
	p := pod("web")
	now := metav1.Now()
	p.DeletionTimestamp = &now
	client, ec := start(t, p)
	if err := ec.sync(context.Background(), "app/web"); err != nil {
		t.Fatal(err)
	}
	claims, _ := client.CoreV1().PersistentVolumeClaims("app").List(context.Background(), metav1.ListOptions{})
	if len(claims.Items) != 0 {
		t.Errorf("claims = %v, want none", claims.Items)
	}
}
