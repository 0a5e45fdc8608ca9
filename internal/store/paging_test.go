package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientscheme "k8s.io/client-go/kubernetes/scheme"
)

// TestContinueAfterCompaction: a continue token whose revision etcd compacted away
// gets Kubernetes' 410 with a token that goes on at the latest revision, and that
// token lists the rest (including what was written since).
func TestContinueAfterCompaction(t *testing.T) {
	e := startTestEtcd(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := New(e.Client, clientscheme.Scheme)
	r := s.Register(schema.GroupResource{Resource: "configmaps"}, corev1.SchemeGroupVersion)
	go s.Run(ctx)
	<-s.Ready()
	create := func(name string) {
		t.Helper()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
		if _, err := r.Create(ctx, cm, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		create(fmt.Sprintf("cm-%d", i))
	}
	remaining := int64(-1)
	first, _, cont, err := r.List(ctx, ListOptions{Namespace: "ns", Limit: 2, Remaining: &remaining})
	if err != nil || len(first) != 2 || cont == "" || remaining != 2 {
		t.Fatalf("first page: %d objects, continue %q, remaining %d, %v", len(first), cont, remaining, err)
	}
	create("cm-9")
	head, err := e.Client.Get(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.Compact(ctx, head.Header.Revision); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = r.List(ctx, ListOptions{Namespace: "ns", Limit: 2, Continue: cont})
	status, ok := err.(apierrors.APIStatus)
	if !apierrors.IsResourceExpired(err) || !ok || status.Status().ListMeta.Continue == "" {
		t.Fatalf("continue after compaction: %v, want 410 carrying a new continue token", err)
	}
	var rest []runtime.Object
	for next := status.Status().ListMeta.Continue; next != ""; {
		page, _, c, err := r.List(ctx, ListOptions{Namespace: "ns", Limit: 2, Continue: next})
		if err != nil {
			t.Fatal(err)
		}
		rest, next = append(rest, page...), c
	}
	var names []string
	for _, o := range rest {
		names = append(names, o.(*corev1.ConfigMap).Name)
	}
	if fmt.Sprint(names) != "[cm-2 cm-3 cm-9]" {
		t.Errorf("the inconsistent continuation listed %v, want [cm-2 cm-3 cm-9]", names)
	}
}
