package apiserver_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/testserver"
)

// TestProtobufListMatchesJSON: a protobuf list, written from the cache's encoded
// objects, holds exactly what the JSON list (decoded objects) holds: whole, by
// label selector and in pages, with objects created, updated and deleted.
func TestProtobufListMatchesJSON(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	jsonConfig := rest.CopyConfig(srv.Config)
	jsonConfig.ContentType, jsonConfig.AcceptContentTypes = "application/json", "application/json"
	pb := protobufClient(t, srv.Config).CoreV1().ConfigMaps("default")
	js := kubernetes.NewForConfigOrDie(jsonConfig).CoreV1().ConfigMaps("default")
	for i := range 30 {
		c := cm(fmt.Sprintf("cm-%02d", i))
		c.Labels = map[string]string{"half": fmt.Sprint(i % 2)}
		if _, err := pb.Create(ctx, c, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := pb.Get(ctx, "cm-03", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Data["k"] = "changed"
	if _, err := pb.Update(ctx, c, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pb.Delete(ctx, "cm-04", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	all := func(list func(context.Context, metav1.ListOptions) (*corev1.ConfigMapList, error), opts metav1.ListOptions) []corev1.ConfigMap {
		t.Helper()
		var items []corev1.ConfigMap
		for {
			l, err := list(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			items = append(items, l.Items...)
			if opts.Continue = l.Continue; opts.Continue == "" {
				return items
			}
		}
	}
	for _, opts := range []metav1.ListOptions{{}, {LabelSelector: "half=1"}, {Limit: 7}, {Limit: 4, LabelSelector: "half=0"}} {
		// Both at the same revision: nothing is written between them.
		got, want := all(pb.List, opts), all(js.List, opts)
		for i := range want {
			want[i].TypeMeta = metav1.TypeMeta{} // protobuf has no room for it
		}
		if diff := cmp.Diff(want, got); len(got) < 10 || diff != "" {
			t.Errorf("list %+v: protobuf %d items, JSON %d: %s", opts, len(got), len(want), diff)
		}
		for _, i := range got {
			if i.ResourceVersion == "" || i.Name == "cm-04" {
				t.Errorf("list %+v: %s at resourceVersion %q", opts, i.Name, i.ResourceVersion)
			}
		}
	}
}
