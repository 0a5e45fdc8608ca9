package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/csrsigning"
	"skiff/internal/controllers/nodeipam"
	"skiff/internal/hostnet"
	"skiff/internal/kubelet/cri"
	"skiff/internal/kubelet/volume"
	"skiff/internal/testserver"
)

// requirePrerequisites skips where pods cannot run (no root, no containerd), except in
// CI, where a missing prerequisite is a broken runner and fails the test.
// The test nodes use ranges of their own, so a cluster running on this machine with
// the defaults does not collide with them.
const (
	testClusterCIDR = "10.200.0.0/16"
	testServiceCIDR = "10.201.0.0/16"
)

func requirePrerequisites(t testing.TB) {
	t.Helper()
	err := CheckPrerequisites(Config{})
	if err == nil {
		if _, berr := os.Stat("/bin/busybox"); berr != nil {
			err = errors.New("busybox not found: apt-get install busybox-static")
		}
	}
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI runner cannot run pods: %v", err)
	}
	t.Skipf("cannot run pods here: %v", err)
}

// buildImageBinaries builds pause and toolbox for the built-in images.
func buildImageBinaries(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []string{"pause", "toolbox"} {
		cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", filepath.Join(dir, p), "skiff/cmd/"+p)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", p, err, out)
		}
	}
	return dir
}

// loadBuiltins puts pause and toolbox into the API server's registry, which every
// node's containerd pulls from.
func loadBuiltins(t testing.TB, srv *testserver.Server) {
	t.Helper()
	if err := srv.Registry.EnsureBuiltins(buildImageBinaries(t)); err != nil {
		t.Fatal(err)
	}
}

// startControllers runs what nodes need of the controller manager: pod ranges, and
// the approver and signer of the certificates joining nodes ask for.
func startControllers(t testing.TB, ctx context.Context, srv *testserver.Server) {
	cc := controller.NewContext(srv.Client, 0)
	ctrl := nodeipam.New(cc, testClusterCIDR)
	csrs := csrsigning.New(cc, srv.CA, testServiceCIDR)
	cc.Informers.Start(ctx.Done())
	go ctrl.Run(ctx)
	go csrs.Run(ctx)
}

type testAgent struct {
	cfg  Config
	rc   *rest.Config
	port int
	stop func()
}

// startAgent runs an agent as node name, joining with the token (join) or with
// credentials signed by the test CA as `skiff server` gives its own node, and registers
// a cleanup that stops it and removes every pod, mount, bridge, table and cgroup it made.
func startAgent(t testing.TB, srv *testserver.Server, name string, join bool) *testAgent {
	t.Helper()
	dir, err := os.MkdirTemp("", "skf-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	serving, err := srv.CA.ServingCert(filepath.Join(dir, "serving"), "kubelet", []string{"127.0.0.1", name})
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := srv.CA.IssueClient("system:node:"+name, []string{"system:nodes"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a := &testAgent{cfg: Config{
		Server: srv.Config.Host, DataDir: dir, NodeName: name, NodeIP: "127.0.0.1",
		KubeletPort: 0, ClusterCIDR: testClusterCIDR, ServiceCIDR: testServiceCIDR,
	}, rc: &rest.Config{Host: srv.Config.Host, TLSClientConfig: rest.TLSClientConfig{CAData: srv.CA.CertPEM, CertData: certPEM, KeyData: keyPEM}}}
	if join {
		// A join signs serving certificates for the node's own address only, never
		// loopback (which would let a node pose as any local service).
		ip, err := hostnet.DefaultRouteIP()
		if err != nil {
			t.Fatalf("a joining agent needs a non-loopback address: %v", err)
		}
		a.cfg.Token, a.cfg.NodeIP, a.rc = srv.Token, ip, nil
	} else {
		a.cfg.CAPEM, a.cfg.ServingCert = srv.CA.CertPEM, &serving
	}
	t.Cleanup(func() {
		a.stop()
		rctx, rcancel := context.WithTimeout(context.Background(), time.Minute)
		defer rcancel()
		if err := Reset(rctx, a.cfg); err != nil {
			t.Errorf("reset %s: %v", name, err)
		}
		if err := volume.UnmountUnder(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount under %s: %v", dir, err)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	a.run(t, srv)
	return a
}

// run starts the agent (again) and waits for its node to be Ready.
func (a *testAgent) run(t testing.TB, srv *testserver.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() {
		runErr = Run(ctx, a.cfg, a.rc)
		close(done)
	}()
	var once sync.Once
	a.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
				if runErr != nil && !errors.Is(runErr, context.Canceled) {
					t.Errorf("agent %s: %v", a.cfg.NodeName, runErr)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("agent %s did not stop within 30s", a.cfg.NodeName)
			}
		})
	}
	a.port = waitNodeReady(t, srv.Client, a.cfg.NodeName, done, &runErr)
}

// waitNodeReady waits for the node to be Ready and returns its kubelet port.
func waitNodeReady(t testing.TB, c kubernetes.Interface, name string, agentDone <-chan struct{}, runErr *error) int {
	t.Helper()
	var node *corev1.Node
	ok := eventually(60*time.Second, func() bool {
		select {
		case <-agentDone:
			t.Fatalf("agent %s exited: %v", name, *runErr)
		default:
		}
		var err error
		node, err = c.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("node %s not Ready within 60s: %+v", name, node)
	}
	return int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
}

func eventually(d time.Duration, f func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if f() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func servePod(name, node string, grace int64) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			TerminationGracePeriodSeconds: ptr.To(grace),
			Containers: []corev1.Container{{
				Name: "web", Image: "skiff.local/toolbox:1",
				Command: []string{"/toolbox", "serve", "--port", "8080"},
				Ports:   []corev1.ContainerPort{{ContainerPort: 8080}},
			}},
		},
	}
}

// waitPhase waits for the pod to reach phase and returns it.
func waitPhase(t *testing.T, c kubernetes.Interface, name string, phase corev1.PodPhase, d time.Duration) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	if !eventually(d, func() bool {
		var err error
		pod, err = c.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		return err == nil && pod.Status.Phase == phase && (phase != corev1.PodRunning || pod.Status.PodIP != "")
	}) {
		t.Fatalf("pod %s not %s within %v; status: %+v", name, phase, d, pod.Status)
	}
	return pod
}

func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// agentLogs reads container logs from the agent endpoint as the API server will,
// with a client certificate from the cluster CA.
func agentLogs(t testing.TB, srv *testserver.Server, a *testAgent, path string) (int, string) {
	t.Helper()
	certPEM, keyPEM, err := srv.CA.IssueClient("skiff-apiserver", []string{"system:masters"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(srv.CA.CertPEM)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{pair}, RootCAs: pool}}}
	resp, err := c.Get(fmt.Sprintf("https://%s%s", net.JoinHostPort(a.cfg.NodeIP, strconv.Itoa(a.port)), path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAgentRunsPods(t *testing.T) {
	requirePrerequisites(t)
	srv := testserver.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	startControllers(t, ctx, srv)
	loadBuiltins(t, srv)
	n1 := startAgent(t, srv, "kl-n1", true)
	c := srv.Client
	jsonCfg := rest.CopyConfig(srv.Config)
	jsonCfg.ContentType = "application/json"
	jsonClient := kubernetes.NewForConfigOrDie(jsonCfg)

	created := time.Now()
	if _, err := c.CoreV1().Pods("default").Create(ctx, servePod("web", "kl-n1", 10), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := waitPhase(t, c, "web", corev1.PodRunning, 90*time.Second)
	t.Logf("pod web Running at %s after %v (first pod: includes image pulls)", pod.Status.PodIP, time.Since(created))
	var body string
	if !eventually(20*time.Second, func() bool {
		var err error
		body, err = httpGet("http://" + pod.Status.PodIP + ":8080/hostname")
		return err == nil
	}) {
		t.Fatalf("GET from the host to pod IP %s failed", pod.Status.PodIP)
	}
	if strings.TrimSpace(body) != "web" {
		t.Errorf("pod answered hostname %q, want web", body)
	}
	code, logs := agentLogs(t, srv, n1, "/containerLogs/default/web/web?timestamps=true")
	if code != http.StatusOK || !strings.Contains(logs, "serving on") {
		t.Errorf("containerLogs: %d %q, want the serve banner", code, logs)
	}
	if code, _ := agentLogs(t, srv, n1, "/containerLogs/default/web/web?previous=true"); code != http.StatusNotFound {
		t.Errorf("previous logs of a container that never restarted: %d, want 404", code)
	}

	start := time.Now()
	if err := jsonClient.CoreV1().Pods("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !eventually(15*time.Second, func() bool {
		_, err := c.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}) {
		t.Fatalf("pod not gone within 15s of deletion (grace 10s)")
	}
	t.Logf("pod deleted in %v", time.Since(start))
	assertNoPods(t, n1, pod.UID)

	// A second node on the same machine: pods on both reach each other by IP.
	startAgent(t, srv, "kl-n2", false)
	if _, err := c.CoreV1().Pods("default").Create(ctx, servePod("srv2", "kl-n2", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p2 := waitPhase(t, c, "srv2", corev1.PodRunning, 60*time.Second)
	client := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: "kl-n1", RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "wget", Image: "skiff.local/toolbox:1",
				Command: []string{"sh", "-c", "for i in 1 2 3 4 5; do wget -qO- http://" + p2.Status.PodIP + ":8080/hostname && exit 0; sleep 1; done; exit 1"}}}},
	}
	if _, err := c.CoreV1().Pods("default").Create(ctx, client, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	done := waitPhase(t, c, "client", corev1.PodSucceeded, 60*time.Second)
	if _, out := agentLogs(t, srv, n1, "/containerLogs/default/client/wget"); !strings.Contains(out, "srv2") {
		t.Errorf("pod on kl-n1 fetched %q from the pod on kl-n2, want its hostname srv2", out)
	}
	if done.Status.PodIP == "" || !strings.HasPrefix(done.Status.PodIP, "10.200.") || done.Status.PodIP[:8] == p2.Status.PodIP[:8] {
		t.Errorf("pods on two nodes share a subnet: %s and %s", done.Status.PodIP, p2.Status.PodIP)
	}
}

// assertNoPods checks that the node's runtime holds nothing of the pod.
func assertNoPods(t *testing.T, a *testAgent, uid any) {
	t.Helper()
	sock := containerdOptions(a.cfg, "").Socket()
	rt, _, err := cri.Dial(context.Background(), sock, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if !eventually(10*time.Second, func() bool {
		sel := map[string]string{cri.LabelPodUID: fmt.Sprint(uid)}
		cs, err1 := rt.Containers(context.Background(), sel)
		sbs, err2 := rt.Sandboxes(context.Background(), sel)
		return err1 == nil && err2 == nil && len(cs) == 0 && len(sbs) == 0
	}) {
		t.Errorf("runtime still holds containers or sandboxes of pod %v", uid)
	}
}
