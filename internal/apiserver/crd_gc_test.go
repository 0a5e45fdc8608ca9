package apiserver_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"

	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/garbagecollector"
	"skiff/internal/controllers/namespace"
	"skiff/internal/testserver"
)

// The garbage collector finds custom resources through discovery and collects
// objects whose custom owner is gone, also when the CRD comes after the collector.
func TestGarbageCollectionOfCustomOwners(t *testing.T) {
	srv := testserver.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ext := apiextensionsclient.NewForConfigOrDie(srv.Config)
	dyn := dynamic.NewForConfigOrDie(srv.Config)
	// The collector runs before the CRD exists, as in a cluster, and finds new
	// kinds later than the owner is created and deleted.
	gc := garbagecollector.New(controller.NewContext(srv.Client, 0), metadata.NewForConfigOrDie(srv.Config), garbagecollector.Options{Rediscover: 3 * time.Second})
	go gc.Run(ctx)
	time.Sleep(500 * time.Millisecond)
	establish(t, ctx, ext, widgetsCRD(t))

	widgets := dyn.Resource(widgetsGVR).Namespace("default")
	var uid string
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		w, err := widgets.Create(ctx, widget("owner", map[string]interface{}{"size": "small"}), metav1.CreateOptions{})
		if err == nil {
			uid = string(w.GetUID())
		}
		return err == nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owned", OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "example.com/v1", Kind: "Widget", Name: "owner", UID: types.UID(uid)}}}}
	if _, err := srv.Client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the collector has seen the config map, not yet the widget
	if err := widgets.Delete(ctx, "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 15*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := srv.Client.CoreV1().ConfigMaps("default").Get(ctx, "owned", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatal("the config map owned by a deleted widget was not collected")
	}
}

// Deleting a namespace deletes the custom objects in it: the namespace controller
// finds them through discovery.
func TestNamespaceDeletionRemovesCustomObjects(t *testing.T) {
	srv := testserver.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	establish(t, ctx, apiextensionsclient.NewForConfigOrDie(srv.Config), widgetsCRD(t))
	if _, err := srv.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gone"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	widgets := dynamic.NewForConfigOrDie(srv.Config).Resource(widgetsGVR).Namespace("gone")
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := widgets.Create(ctx, widget("w", map[string]interface{}{"size": "small"}), metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cc := controller.NewContext(srv.Client, 0)
	nc := namespace.New(cc, metadata.NewForConfigOrDie(srv.Config))
	cc.Informers.Start(ctx.Done())
	go nc.Run(ctx)
	if err := srv.Client.CoreV1().Namespaces().Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := srv.Client.CoreV1().Namespaces().Get(ctx, "gone", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatal("namespace with a custom object not deleted")
	}
	if _, err := widgets.Get(ctx, "w", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("widget in a deleted namespace: %v", err)
	}
}
