package ha_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"skiff/test/e2e/framework"
)

// TestServersShareOneControlPlane: three etcd voters; what is written through one
// server reads through another, Secrets included (one encryption key for all).
func TestServersShareOneControlPlane(t *testing.T) {
	out := skiff(t, "server", "list", "--data-dir", servers[0].Dir)
	for _, s := range servers {
		if !strings.Contains(out, s.Name) {
			t.Fatalf("skiff server list lacks %s:\n%s", s.Name, out)
		}
	}
	if strings.Contains(out, "learner") {
		t.Fatalf("a member is still a learner:\n%s", out)
	}
	servers[1].MustKubectl(t, "create", "secret", "generic", "shared", "--from-literal=k=through-s2")
	if got := servers[2].MustKubectl(t, "get", "secret", "shared", "-o", "jsonpath={.data.k}"); got != "dGhyb3VnaC1zMg==" {
		t.Fatalf("s3 reads the Secret written through s2 as %q", got)
	}
	ca := func(s *server) string {
		b, err := os.ReadFile(filepath.Join(s.Dir, "tls", "ca.crt"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if ca(servers[0]) != ca(servers[2]) {
		t.Fatal("s1 and s3 have different CAs")
	}
	want := wantEndpoints(servers...)
	framework.Eventually(t, 15*time.Second, func() error {
		if got, err := endpointPorts(servers[0]); err != nil || got != want {
			return fmt.Errorf("kubernetes endpoints on ports %q (%v), want %q", got, err, want)
		}
		return nil
	})
}

// TestBadJoinsChangeNothing: a wrong secret, an agent's token, and a token of
// another cluster are refused with a message that says which; the membership
// stays as it was.
func TestBadJoinsChangeNothing(t *testing.T) {
	tokenBytes, err := os.ReadFile(filepath.Join(servers[0].Dir, "server-join-token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokenBytes))
	agentToken, err := os.ReadFile(filepath.Join(servers[0].Dir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	hash, secret, _ := strings.Cut(token, "::server:")
	before := skiff(t, "server", "list", "--data-dir", servers[0].Dir)
	for _, c := range []struct{ name, token, want string }{
		{"wrong secret", hash + "::server:" + strings.Repeat("0", len(secret)), "the server refused the token"},
		{"agent token", hash + "::server:" + strings.TrimSpace(string(agentToken)), "cannot post path"},
		{"agent token as is", strings.TrimSpace(string(agentToken)), "not a server join token"},
		{"another cluster", "K10" + strings.Repeat("ab", 32) + "::server:" + secret, "belongs to another cluster"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bin, err := framework.Binary()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, "server", "--disable-agent", "--data-dir", t.TempDir(), "--bind-address", "127.0.0.1",
				"--https-port", "0", "--etcd-peer-port", fmt.Sprint(freePort()), "--node-name", "intruder", "--service-cidr", serviceCIDR,
				"--server", servers[0].URL(), "--token", c.token).CombinedOutput()
			if err == nil || !strings.Contains(string(out), c.want) {
				t.Fatalf("join with %s: %v, want an error saying %q:\n%s", c.name, err, c.want, tail(string(out)))
			}
			t.Logf("%s: %s", c.name, lastLine(string(out)))
		})
	}
	if after := skiff(t, "server", "list", "--data-dir", servers[0].Dir); after != before {
		t.Fatalf("membership changed:\n%s\nthen:\n%s", before, after)
	}
}

// TestServiceAllocationsAreUniqueAcrossServers: the three servers each create
// Services at once in a 30-address range; no two get the same cluster IP or node
// port, and each cluster IP has its IPAddress naming its Service.
func TestServiceAllocationsAreUniqueAcrossServers(t *testing.T) {
	ns := "alloc"
	servers[0].MustKubectl(t, "create", "namespace", ns)
	t.Cleanup(func() { _, _ = servers[0].Kubectl("delete", "namespace", ns, "--wait=false") })
	const perServer = 8
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for i, s := range servers {
		for j := range perServer {
			wg.Go(func() {
				svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d-%d", i, j)},
					Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "x"},
						Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80)}}}}
				_, err := s.Client.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{})
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	list, err := servers[2].Client.CoreV1().Services(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ips, ports := map[string]string{}, map[int32]string{}
	for _, svc := range list.Items {
		if other, dup := ips[svc.Spec.ClusterIP]; dup {
			t.Errorf("%s and %s both have cluster IP %s", other, svc.Name, svc.Spec.ClusterIP)
		}
		ips[svc.Spec.ClusterIP] = svc.Name
		// The address is held by an IPAddress naming this Service, whichever
		// server allocated it: the IPAddress objects are what keeps them apart.
		addr, err := servers[1].Client.NetworkingV1().IPAddresses().Get(context.Background(), svc.Spec.ClusterIP, metav1.GetOptions{})
		if err != nil || addr.Spec.ParentRef == nil || addr.Spec.ParentRef.Namespace != ns || addr.Spec.ParentRef.Name != svc.Name {
			t.Errorf("IPAddress of %s's cluster IP %s: %+v (%v), want one naming the Service", svc.Name, svc.Spec.ClusterIP, addr, err)
		}
		p := svc.Spec.Ports[0].NodePort
		if other, dup := ports[p]; dup {
			t.Errorf("%s and %s both have node port %d", other, svc.Name, p)
		}
		ports[p] = svc.Name
	}
	if len(list.Items) != 3*perServer {
		t.Fatalf("%d Services, want %d", len(list.Items), 3*perServer)
	}
}

func skiff(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := framework.Binary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("skiff %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestRemoveServer: a fourth server joins and votes; `skiff server remove` takes
// it out of the etcd cluster again, and it stops.
func TestRemoveServer(t *testing.T) {
	s4 := joinFourth(t, "s4")
	out := skiff(t, "server", "remove", "s4", "--data-dir", servers[1].Dir)
	t.Log(strings.TrimSpace(out))
	waitRemoved(t, s4)
}

// TestDeleteServerNodeRemovesItsMember: `kubectl delete node` of a server's node
// takes the server out of the etcd cluster. The servers here run no agents, so
// the test registers the node the fifth server's own agent would (named after
// it, labelled control-plane); the node is held by a finalizer until the member
// is gone.
func TestDeleteServerNodeRemovesItsMember(t *testing.T) {
	s5 := joinFourth(t, "s5")
	if _, err := servers[0].KubectlStdin("apiVersion: v1\nkind: Node\nmetadata:\n  name: s5\n  labels:\n    node-role.kubernetes.io/control-plane: \"\"\n", "create", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		out, err := servers[0].Kubectl("get", "node", "s5", "-o", "jsonpath={.metadata.finalizers}")
		if err != nil || !strings.Contains(out, "skiff.io/etcd-member") {
			return fmt.Errorf("node s5 has finalizers %q (%v), want skiff.io/etcd-member", out, err)
		}
		return nil
	})
	servers[0].MustKubectl(t, "delete", "node", "s5", "--timeout=60s")
	waitRemoved(t, s5)
	framework.Eventually(t, 10*time.Second, func() error {
		out, err := servers[0].Kubectl("get", "events", "--field-selector", "involvedObject.name=s5,reason=EtcdMemberRemoved", "-o", "name")
		if err != nil || strings.TrimSpace(out) == "" {
			return fmt.Errorf("no EtcdMemberRemoved event for node s5 (%v)", err)
		}
		return nil
	})
}

// joinFourth starts one more server joining s1 and waits until it votes; it is
// removed again (if the test did not) and stopped when the test ends.
func joinFourth(t *testing.T, name string) *server {
	s := &server{Name: name, Port: freePort(), PeerPort: freePort()}
	token, err := os.ReadFile(filepath.Join(servers[0].Dir, "server-join-token"))
	if err != nil {
		t.Fatal(err)
	}
	s.joinFlags = []string{"--server", servers[0].URL(), "--token", strings.TrimSpace(string(token))}
	if s.Cluster, err = framework.StartServer(t.TempDir(), s.args()...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A fourth voter left behind would change the quorum the later tests count on.
		if out, _ := exec.Command(s4bin(t), "server", "list", "--data-dir", servers[0].Dir).CombinedOutput(); strings.Contains(string(out), name) {
			_, _ = exec.Command(s4bin(t), "server", "remove", name, "--data-dir", servers[1].Dir).CombinedOutput()
		}
		s.Stop()
	})
	if out := skiff(t, "server", "list", "--data-dir", servers[0].Dir); !strings.Contains(out, name+" ") || strings.Contains(out, "learner") {
		t.Fatalf("%s is not a voting member:\n%s", name, out)
	}
	return s
}

// waitRemoved checks that the server called name left the etcd cluster and stopped.
func waitRemoved(t *testing.T, s *server) {
	t.Helper()
	framework.Eventually(t, 10*time.Second, func() error {
		if out := skiff(t, "server", "list", "--data-dir", servers[0].Dir); strings.Contains(out, s.Name) {
			return fmt.Errorf("%s is still a member:\n%s", s.Name, out)
		}
		return nil
	})
	if _, ok := s.Exited(30 * time.Second); !ok {
		t.Fatalf("%s still runs 30s after its removal from the etcd cluster", s.Name)
	}
}

func s4bin(t *testing.T) string {
	bin, err := framework.Binary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestRotateKeyReachesEveryServer: `skiff secrets rotate-key` run against one
// server's data dir gives every server the new key (and only it) and returns
// only once all of them have applied each step; Secrets written before the
// rotation through one server read through the others after it.
func TestRotateKeyReachesEveryServer(t *testing.T) {
	servers[2].MustKubectl(t, "create", "secret", "generic", "before-rotation", "--from-literal=k=v1")
	config := func(s *server) string {
		b, err := os.ReadFile(filepath.Join(s.Dir, "encryption", "config.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	before := config(servers[0])
	start := time.Now()
	out := skiff(t, "secrets", "rotate-key", "--data-dir", servers[0].Dir, "--timeout", "60s")
	t.Logf("rotate-key took %.1fs:\n%s", time.Since(start).Seconds(), out)
	after := config(servers[0])
	if after == before || strings.Count(after, "secret:") != 1 {
		t.Fatalf("s1's configuration after the rotation:\n%s", after)
	}
	for _, s := range servers[1:] {
		if got := config(s); got != after {
			t.Errorf("%s's configuration differs from s1's after the rotation:\n%s", s.Name, got)
		}
		if got := s.MustKubectl(t, "get", "secret", "before-rotation", "-o", "jsonpath={.data.k}"); got != "djE=" {
			t.Errorf("%s reads the Secret as %q", s.Name, got)
		}
	}
}
