// Package wltest starts what a workload controller's integration test needs: an
// in-process API server, the controllers under test, and a fake kubelet with nodes.
package wltest

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/workloads/fakekubelet"
	"skiff/internal/testserver"
)

// Env is a running test cluster.
type Env struct {
	Ctx    context.Context
	Client kubernetes.Interface
	NS     string
	// Kubeconfig is an admin kubeconfig for running kubectl against the server.
	Kubeconfig string
}

// Options shape the cluster.
type Options struct {
	Nodes   []string                              // default: node-a
	Outcome func(*corev1.Pod) fakekubelet.Outcome // fake kubelet's decision; nil runs pods
}

// Start runs a server, nodes and a fake kubelet, builds the controllers with ctors,
// starts them, and creates a namespace for the test.
func Start(t *testing.T, opts Options, ctors ...func(*controller.Context) *controller.Controller) *Env {
	t.Helper()
	srv := testserver.Start(t)
	// Protobuf, as the controller manager talks to the API server.
	cfg := rest.CopyConfig(srv.Config)
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if len(opts.Nodes) == 0 {
		opts.Nodes = []string{"node-a"}
	}
	for _, n := range opts.Nodes {
		if err := fakekubelet.AddNode(ctx, client, n); err != nil {
			t.Fatalf("add node %s: %v", n, err)
		}
	}
	k := &fakekubelet.Kubelet{Client: client, Outcome: opts.Outcome}
	go k.Run(ctx)
	cc := controller.NewContext(client, 0)
	var ctrls []*controller.Controller
	for _, ctor := range ctors {
		ctrls = append(ctrls, ctor(cc))
	}
	cc.Informers.Start(ctx.Done())
	for _, c := range ctrls {
		go c.Run(ctx)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "test"}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return &Env{Ctx: ctx, Client: client, NS: "test", Kubeconfig: srv.Kubeconfig()}
}

// Eventually polls cond until it holds or timeout passes; cond's message says what it
// saw last, for the failure.
func Eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var msg string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, msg = cond(); ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not within %v: %s", timeout, msg)
}

// Pods lists the pods of the test namespace matching selector that are not being
// deleted.
func (e *Env) Pods(t *testing.T, selector string) []corev1.Pod {
	t.Helper()
	l, err := e.Client.CoreV1().Pods(e.NS).List(e.Ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// Describe is a one-line account of pods, for failure messages.
func Describe(pods []corev1.Pod) string {
	s := fmt.Sprintf("%d pods:", len(pods))
	for _, p := range pods {
		s += fmt.Sprintf(" %s(%s)", p.Name, p.Status.Phase)
	}
	return s
}

// Kubectl runs the real kubectl against the server in the test namespace.
func (e *Env) Kubectl(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"--kubeconfig", e.Kubeconfig, "-n", e.NS}, args...)
	out, err := exec.CommandContext(e.Ctx, "kubectl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}
