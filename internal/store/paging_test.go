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
	// The cache keeps the first page's snapshot for a while; once it has let it
	// go, the rest of the list is read from etcd at the compacted revision.
	r.dropViews()
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

// TestPagesFromOneSnapshot: the pages of a list come from the cache as it was at
// the first page, whatever is written meanwhile, and the next list sees the writes.
func TestPagesFromOneSnapshot(t *testing.T) {
	e := startTestEtcd(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := New(e.Client, clientscheme.Scheme)
	r := s.Register(schema.GroupResource{Resource: "configmaps"}, corev1.SchemeGroupVersion)
	go s.Run(ctx)
	<-s.Ready()
	create := func(ns, name string) {
		t.Helper()
		if _, err := r.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		create("a", fmt.Sprintf("cm-%d", i))
		create("b", fmt.Sprintf("cm-%d", i))
	}
	list := func(ns string) (names []string, rev int64) {
		t.Helper()
		remaining := int64(-1)
		objs, rev, cont, err := r.List(ctx, ListOptions{Namespace: ns, Limit: 2, Remaining: &remaining})
		if err != nil || remaining != 3 {
			t.Fatalf("first page: remaining %d, %v", remaining, err)
		}
		create(ns, fmt.Sprintf("cm-new-%d", rev))
		for {
			for _, o := range objs {
				names = append(names, o.(*corev1.ConfigMap).Name)
			}
			if cont == "" {
				return names, rev
			}
			var pageRev int64
			if objs, pageRev, cont, err = r.List(ctx, ListOptions{Namespace: ns, Limit: 2, Continue: cont}); err != nil || pageRev != rev {
				t.Fatalf("page at revision %d of a list at %d: %v", pageRev, rev, err)
			}
		}
	}
	names, rev := list("a")
	if fmt.Sprint(names) != "[cm-0 cm-1 cm-2 cm-3 cm-4]" {
		t.Errorf("pages listed %v, want the five objects there were at the first page", names)
	}
	all, _, _, err := r.List(ctx, ListOptions{Namespace: "a"})
	if err != nil || len(all) != 6 || all[0].(*corev1.ConfigMap).Name != "cm-0" || all[5].(*corev1.ConfigMap).Name != fmt.Sprintf("cm-new-%d", rev) {
		t.Errorf("the next list has %d objects (%v), want the six in key order", len(all), err)
	}
}
