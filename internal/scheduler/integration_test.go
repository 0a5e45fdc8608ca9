package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"skiff/internal/scheduler"
	"skiff/internal/simulate"
	"skiff/internal/testserver"
)

// cluster is an in-process API server with simulated nodes and a scheduler.
type cluster struct {
	client kubernetes.Interface
	ctx    context.Context
}

func startCluster(t *testing.T, groups ...[]string) *cluster {
	t.Helper()
	srv := testserver.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, args := range groups {
		opts, err := simulate.ParseFlags(args)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			if err := simulate.Run(ctx, srv.Config, opts); err != nil && ctx.Err() == nil {
				t.Errorf("simulate %v: %v", args, err)
			}
		}()
	}
	inf := informers.NewSharedInformerFactory(srv.Client, 0)
	bc := record.NewBroadcaster(record.WithContext(ctx))
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: srv.Client.CoreV1().Events("")})
	t.Cleanup(bc.Shutdown)
	rec := bc.NewRecorder(scheme.Scheme, v1.EventSource{Component: scheduler.DefaultSchedulerName})
	s, err := scheduler.New(srv.Client, inf, rec, scheduler.Config{})
	if err != nil {
		t.Fatal(err)
	}
	inf.Start(ctx.Done())
	go s.Run(ctx)
	return &cluster{client: srv.Client, ctx: ctx}
}

func (c *cluster) waitNodes(t *testing.T, n int) {
	t.Helper()
	c.poll(t, 30*time.Second, fmt.Sprintf("%d nodes", n), func(ctx context.Context) (bool, error) {
		l, err := c.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == n, err
	})
}

func (c *cluster) poll(t *testing.T, timeout time.Duration, what string, cond wait.ConditionWithContextFunc) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(c.ctx, 100*time.Millisecond, timeout, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func pod(name, cpu string, mutate ...func(*v1.Pod)) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}},
		Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "busybox",
			Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}}}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func (c *cluster) create(t *testing.T, p *v1.Pod) {
	t.Helper()
	if _, err := c.client.CoreV1().Pods(p.Namespace).Create(c.ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", p.Name, err)
	}
}

func (c *cluster) waitRunning(t *testing.T, name string) *v1.Pod {
	t.Helper()
	var got *v1.Pod
	c.poll(t, 30*time.Second, "pod "+name+" running", func(ctx context.Context) (bool, error) {
		p, err := c.client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		got = p
		return p.Spec.NodeName != "" && p.Status.Phase == v1.PodRunning && p.Status.PodIP != "", nil
	})
	return got
}

func TestIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server")
	}
	c := startCluster(t,
		[]string{"--nodes", "3", "--name-prefix", "small-", "--cpu", "2", "--memory", "4Gi"},
		[]string{"--nodes", "1", "--name-prefix", "gpu-", "--cpu", "8", "--memory", "4Gi", "--taints", "gpu=true:NoSchedule"},
	)
	c.waitNodes(t, 4)

	t.Run("pods are bound and run", func(t *testing.T) {
		for i := range 6 {
			c.create(t, pod(fmt.Sprintf("web-%d", i), "100m"))
		}
		for i := range 6 {
			p := c.waitRunning(t, fmt.Sprintf("web-%d", i))
			if !strings.HasPrefix(p.Spec.NodeName, "small-") {
				t.Errorf("web-%d on %s, want an untainted small- node", i, p.Spec.NodeName)
			}
		}
	})

	t.Run("pending pod explains itself", func(t *testing.T) {
		c.create(t, pod("huge", "3"))
		want := "0/4 nodes are available: 3 Insufficient cpu, 1 node(s) had untolerated taint {gpu: true}. " +
			"preemption: 0/4 nodes are available: 3 No preemption victims found for incoming pod, " +
			"1 Preemption is not helpful for scheduling."
		c.poll(t, 30*time.Second, "FailedScheduling event", func(ctx context.Context) (bool, error) {
			evs, err := c.client.CoreV1().Events("default").List(ctx, metav1.ListOptions{
				FieldSelector: "involvedObject.name=huge"})
			if err != nil {
				return false, nil
			}
			for _, e := range evs.Items {
				if e.Reason == "FailedScheduling" {
					if e.Message != want {
						t.Fatalf("event message:\n got %q\nwant %q", e.Message, want)
					}
					return true, nil
				}
			}
			return false, nil
		})
		c.poll(t, 10*time.Second, "PodScheduled=False", func(ctx context.Context) (bool, error) {
			p, err := c.client.CoreV1().Pods("default").Get(ctx, "huge", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == v1.PodScheduled && cond.Status == v1.ConditionFalse &&
					cond.Reason == v1.PodReasonUnschedulable && cond.Message == want {
					return true, nil
				}
			}
			return false, nil
		})
	})

	t.Run("preemption evicts a lower-priority pod", func(t *testing.T) {
		_ = c.client.CoreV1().Pods("default").Delete(c.ctx, "huge", metav1.DeleteOptions{})
		// Fill the small nodes: each has 2 cpu, web-* use 100m, filler 1.5 each.
		for i := range 3 {
			c.create(t, pod(fmt.Sprintf("filler-%d", i), "1500m"))
			c.waitRunning(t, fmt.Sprintf("filler-%d", i))
		}
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000}
		if _, err := c.client.SchedulingV1().PriorityClasses().Create(c.ctx, pc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.create(t, pod("important", "1500m", func(p *v1.Pod) { p.Spec.PriorityClassName = "high" }))
		got := c.waitRunning(t, "important")
		if got.Spec.Priority == nil || *got.Spec.Priority != 1000 {
			t.Errorf("priority = %v, want 1000", ptr.Deref(got.Spec.Priority, -1))
		}
		fillers, err := c.client.CoreV1().Pods("default").List(c.ctx, metav1.ListOptions{LabelSelector: "app in (filler-0,filler-1,filler-2)"})
		if err != nil {
			t.Fatal(err)
		}
		if len(fillers.Items) != 2 {
			t.Errorf("%d filler pods left, want 2 (exactly one preempted)", len(fillers.Items))
		}
		for _, f := range fillers.Items {
			if f.Spec.NodeName == got.Spec.NodeName {
				t.Errorf("filler %s still on %s next to the preemptor", f.Name, f.Spec.NodeName)
			}
		}
	})
}
