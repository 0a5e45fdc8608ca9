package apiserver_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/testserver"
)

func protobufClient(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	c := rest.CopyConfig(cfg)
	c.ContentType = "application/vnd.kubernetes.protobuf"
	c.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	return kubernetes.NewForConfigOrDie(c)
}

func cm(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": "v"}}
}

func TestProtobufRoundTripAndWatchResume(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	c := protobufClient(t, srv.Config)
	first, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm("a"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"b", "c"} {
		if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm(n), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Resuming after the first object's version replays exactly what came later.
	w, err := c.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var got []string
	for len(got) < 2 {
		select {
		case ev := <-w.ResultChan():
			got = append(got, fmt.Sprintf("%s %s", ev.Type, ev.Object.(*corev1.ConfigMap).Name))
		case <-time.After(10 * time.Second):
			t.Fatalf("watch resume delivered only %v", got)
		}
	}
	if strings.Join(got, ",") != "ADDED b,ADDED c" {
		t.Fatalf("resumed watch = %v, want ADDED b, ADDED c", got)
	}
}

func TestWatchFromBeforeTheCacheIsGone(t *testing.T) {
	dir := t.TempDir()
	srv := testserver.StartIn(t, dir)
	old, err := srv.Client.CoreV1().ConfigMaps("default").Create(context.Background(), cm("old"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client.CoreV1().ConfigMaps("default").Create(context.Background(), cm("later"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// After a restart the cache starts at the current revision: older ones are gone.
	srv2 := restart(t, srv, dir)
	if _, err := srv2.Client.CoreV1().ConfigMaps("default").Create(context.Background(), cm("new"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = srv2.Client.CoreV1().ConfigMaps("default").Watch(context.Background(), metav1.ListOptions{ResourceVersion: old.ResourceVersion})
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("watch from rv %s: %v, want 410 Gone", old.ResourceVersion, err)
	}
}

func TestPagingOverTwoThousandObjects(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	c := protobufClient(t, srv.Config)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < 2000; i += 8 {
				if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm(fmt.Sprintf("cm-%04d", i)), metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	opts := metav1.ListOptions{Limit: 300}
	pages := 0
	var promised []int // what each page said the whole list would hold
	var rv string
	for {
		l, err := c.CoreV1().ConfigMaps("default").List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if rv == "" {
			rv = l.ResourceVersion
		} else if l.ResourceVersion != rv {
			t.Fatalf("page %d at resourceVersion %s, first page at %s: not one snapshot", pages, l.ResourceVersion, rv)
		}
		for _, i := range l.Items {
			if seen[i.Name] {
				t.Fatalf("%s listed twice", i.Name)
			}
			seen[i.Name] = true
		}
		if l.Continue == "" {
			break
		}
		if l.RemainingItemCount == nil {
			t.Fatalf("page %d has a continue token but no remainingItemCount", pages)
		}
		promised = append(promised, len(seen)+int(*l.RemainingItemCount))
		opts.Continue = l.Continue
	}
	for i, p := range promised {
		if p != len(seen) {
			t.Errorf("page %d: listed so far plus remainingItemCount = %d, but the list had %d", i+1, p, len(seen))
		}
	}
	// kube-root-ca.crt may or may not exist depending on controllers; count ours.
	n := 0
	for name := range seen {
		if strings.HasPrefix(name, "cm-") {
			n++
		}
	}
	if n != 2000 || pages < 7 {
		t.Fatalf("listed %d of 2000 in %d pages", n, pages)
	}
}

func TestConcurrentUpdatesConflict(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	c := srv.Client.CoreV1().ConfigMaps("default")
	orig, err := c.Create(ctx, cm("race"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := orig.DeepCopy(), orig.DeepCopy()
	a.Data["k"] = "a"
	b.Data["k"] = "b"
	if _, err := c.Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Update(ctx, b, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("stale update: %v, want 409 Conflict", err)
	}
	got, _ := c.Get(ctx, "race", metav1.GetOptions{})
	if got.Data["k"] != "a" {
		t.Fatalf("value after conflict = %q, want a", got.Data["k"])
	}
}

func TestServerSideApplyConflictsBetweenManagers(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	c := srv.Client.CoreV1().ConfigMaps("default")
	if _, err := c.Apply(ctx, corev1ac.ConfigMap("shared", "default").WithData(map[string]string{"x": "1"}), metav1.ApplyOptions{FieldManager: "alice"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Apply(ctx, corev1ac.ConfigMap("shared", "default").WithData(map[string]string{"x": "2"}), metav1.ApplyOptions{FieldManager: "bob"})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "alice") {
		t.Fatalf("bob's apply: %v, want a conflict naming alice", err)
	}
	// A field nobody else owns is bob's without conflict; force takes x over.
	if _, err := c.Apply(ctx, corev1ac.ConfigMap("shared", "default").WithData(map[string]string{"y": "b"}), metav1.ApplyOptions{FieldManager: "bob"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Apply(ctx, corev1ac.ConfigMap("shared", "default").WithData(map[string]string{"x": "2", "y": "b"}), metav1.ApplyOptions{FieldManager: "bob", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["x"] != "2" || got.Data["y"] != "b" {
		t.Fatalf("data after forced apply = %v", got.Data)
	}
	// A merge patch through JSON works alongside.
	if _, err := c.Patch(ctx, "shared", types.MergePatchType, []byte(`{"data":{"z":"3"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestInformerResyncsAfterRestart(t *testing.T) {
	dir := t.TempDir()
	srv := testserver.StartIn(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := protobufClient(t, srv.Config)
	if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm("before"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace("default"))
	inf := f.Core().V1().ConfigMaps().Informer()
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	// Restart the server on the same data (the port changes, so point a new client at
	// it: what must survive is the data and the informer's resourceVersion semantics).
	srv2 := restart(t, srv, dir)
	c2 := protobufClient(t, srv2.Config)
	if _, err := c2.CoreV1().ConfigMaps("default").Create(ctx, cm("after"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f2 := informers.NewSharedInformerFactoryWithOptions(c2, 0, informers.WithNamespace("default"))
	inf2 := f2.Core().V1().ConfigMaps().Informer()
	f2.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf2.HasSynced) {
		t.Fatal("informer did not sync after restart")
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, ok1, _ := inf2.GetStore().GetByKey("default/before")
		_, ok2, _ := inf2.GetStore().GetByKey("default/after")
		if ok1 && ok2 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("informer after restart lacks objects from before and after the restart")
}

// restart stops the server of srv and starts one on the same data dir.
func restart(t *testing.T, srv *testserver.Server, dir string) *testserver.Server {
	t.Helper()
	srv.Stop()
	return testserver.StartIn(t, dir)
}

func TestProtobufDeleteWithOptions(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	c := protobufClient(t, srv.Config)
	if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm("gone"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bg := metav1.DeletePropagationBackground
	if err := c.CoreV1().ConfigMaps("default").Delete(ctx, "gone", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		t.Fatalf("protobuf delete with options: %v", err)
	}
	if _, err := c.CoreV1().ConfigMaps("default").Get(ctx, "gone", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after delete: %v", err)
	}
}

// A status update of a terminating namespace (the namespace controller reports its
// conditions) must not delete it while spec.finalizers still hold it.
func TestTerminatingNamespaceSurvivesStatusUpdates(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	c := srv.Client.CoreV1().Namespaces()
	if _, err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "held"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns, err := c.Get(ctx, "held", metav1.GetOptions{})
	if err != nil || ns.Status.Phase != corev1.NamespaceTerminating {
		t.Fatalf("after delete: %v %+v", err, ns.Status)
	}
	ns.Status.Conditions = append(ns.Status.Conditions, corev1.NamespaceCondition{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionTrue})
	if _, err := c.UpdateStatus(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "held", metav1.GetOptions{}); err != nil {
		t.Fatalf("a status update deleted a namespace its finalizers still hold: %v", err)
	}
	ns, _ = c.Get(ctx, "held", metav1.GetOptions{})
	ns.Spec.Finalizers = nil
	if _, err := c.Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "held", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after finalize: %v, want NotFound", err)
	}
}

// metadata.generation of a pod counts its spec changes, as clients waiting on
// status.observedGeneration expect: 1 on create whatever the client sent, +1 per spec
// update, unchanged by metadata-only updates or a client-set value, +1 when a
// graceful deletion starts.
func TestPodGeneration(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	pods := srv.Client.CoreV1().Pods("default")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "gen", Generation: 100},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	pod, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Generation != 1 {
		t.Fatalf("generation on create = %d, want 1", pod.Generation)
	}
	steps := []struct {
		name   string
		change func(*corev1.Pod)
		want   int64
	}{
		{"empty update", func(*corev1.Pod) {}, 1},
		{"image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "busybox:2" }, 2},
		{"activeDeadlineSeconds", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = new(int64(60)) }, 3},
		{"annotation", func(p *corev1.Pod) { p.Annotations = map[string]string{"k": "v"} }, 3},
		{"client-set generation", func(p *corev1.Pod) { p.Generation = 1 }, 3},
	}
	for _, s := range steps {
		cur, err := pods.Get(ctx, "gen", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.change(cur)
		got, err := pods.Update(ctx, cur, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got.Generation != s.want {
			t.Errorf("%s: generation %d, want %d", s.name, got.Generation, s.want)
		}
	}
	// The kubelet's status write keeps observedGeneration and leaves generation alone.
	cur, _ := pods.Get(ctx, "gen", metav1.GetOptions{})
	cur.Status.ObservedGeneration = 3
	cur.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, ObservedGeneration: 3}}
	got, err := pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Generation != 3 || got.Status.ObservedGeneration != 3 || got.Status.Conditions[0].ObservedGeneration != 3 {
		t.Errorf("after status write: generation %d, observedGeneration %d, condition %+v", got.Generation, got.Status.ObservedGeneration, got.Status.Conditions)
	}
	if err := pods.Delete(ctx, "gen", metav1.DeleteOptions{GracePeriodSeconds: new(int64(60))}); err != nil {
		t.Fatal(err)
	}
	got, err = pods.Get(ctx, "gen", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.DeletionTimestamp == nil || got.Generation != 4 {
		t.Errorf("graceful delete: deletionTimestamp %v, generation %d, want set and 4", got.DeletionTimestamp, got.Generation)
	}
	// Asking again with the same grace period changes nothing.
	_ = pods.Delete(ctx, "gen", metav1.DeleteOptions{GracePeriodSeconds: new(int64(60))})
	if again, _ := pods.Get(ctx, "gen", metav1.GetOptions{}); again.Generation != 4 {
		t.Errorf("repeated delete: generation %d, want 4", again.Generation)
	}
}
