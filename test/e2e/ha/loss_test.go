package ha_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/test/e2e/framework"
)

// Lease timings of the scheduler and controller manager (internal/leader).
const leaseDuration = 15 * time.Second

// TestLeaderFailover: the server that leads the scheduler (and, when it also does,
// the controller manager) is killed; another server's scheduler binds a new pod,
// and its controller manager creates a new Deployment's ReplicaSet, within the
// Lease duration + 5 s. The times are printed.
func TestLeaderFailover(t *testing.T) {
	schedLeader := leaseHolder(t, "kube-scheduler")
	cmLeader := leaseHolder(t, "skiff-controller-manager")
	var other *server
	for _, s := range servers {
		if s != schedLeader {
			other = s
			break
		}
	}
	sim, err := framework.StartSkiff(other.Kubeconfig, filepath.Join(t.TempDir(), "simulate.log"),
		"simulate", "--nodes", "1", "--name-prefix", "ha-sim-", "--pod-cidr", "10.81.0.0/16", "--heartbeat-interval", "2s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sim.Stop()
		_, _ = other.Kubectl("delete", "node", "ha-sim-0", "--wait=false")
	})
	framework.Eventually(t, 60*time.Second, func() error { return bound(other, "before") })
	t.Logf("scheduler leader %s, controller-manager leader %s; killing %s", schedLeader.Name, cmLeader.Name, schedLeader.Name)

	schedLeader.kill()
	killed := time.Now()
	t.Cleanup(func() {
		if err := schedLeader.revive(); err != nil {
			t.Fatal(err)
		}
	})
	// A write proposed while etcd elects a new leader (when the killed server led
	// etcd too) times out; the user retries, as here.
	framework.Eventually(t, 20*time.Second, func() error {
		_, err := other.Kubectl("create", "deployment", "failover", "--image=skiff.local/pause", "--replicas=1")
		if err != nil && strings.Contains(err.Error(), "AlreadyExists") {
			return nil
		}
		return err
	})
	var schedTook, cmTook time.Duration
	framework.Eventually(t, leaseDuration+5*time.Second, func() error {
		if schedTook == 0 && bound(other, "after") == nil {
			schedTook = time.Since(killed)
		}
		if cmTook == 0 {
			if out, _ := other.Kubectl("get", "replicasets", "-l", "app=failover", "-o", "name"); strings.TrimSpace(out) != "" {
				cmTook = time.Since(killed)
			}
		}
		if schedTook == 0 || (cmLeader == schedLeader && cmTook == 0) {
			return errors.New("the scheduler has not bound the new pod, or the controller manager not created the ReplicaSet")
		}
		return nil
	})
	t.Logf("leader killed -> new scheduler leader bound a pod in %.1fs (bound: Lease %s + 5s)", schedTook.Seconds(), leaseDuration)
	if cmLeader == schedLeader {
		t.Logf("leader killed -> new controller-manager leader created the ReplicaSet in %.1fs", cmTook.Seconds())
	}
}

// leaseHolder is the server whose log says it leads the Lease kube-system/name.
func leaseHolder(t *testing.T, name string) *server {
	t.Helper()
	var holder string
	framework.Eventually(t, 30*time.Second, func() error {
		out, err := servers[0].Kubectl("-n", "kube-system", "get", "lease", name, "-o", "jsonpath={.spec.holderIdentity}")
		if holder = strings.TrimSpace(out); err != nil || holder == "" {
			return fmt.Errorf("no holder of %s yet: %v", name, err)
		}
		return nil
	})
	for _, s := range servers {
		log, _ := os.ReadFile(s.LogPath)
		if strings.Contains(string(log), "msg=leading lease=kube-system/"+name+" identity="+holder) {
			return s
		}
	}
	t.Fatalf("no server's log says it leads %s as %s", name, holder)
	return nil
}

// bound creates the pod when missing and reports whether it has a node.
func bound(s *server, name string) error {
	ctx := context.Background()
	pod, err := s.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "skiff.local/pause"}}}}
		if pod, err = s.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	if pod.Spec.NodeName == "" {
		return fmt.Errorf("pod %s not bound", name)
	}
	return nil
}

// TestLosingServers: a writer creates ConfigMaps through whichever server
// answers and counts what was acknowledged. s1 is killed: kubectl through s2
// works and writes go on with 2 of 3. s2 is killed too: a write through s3 gets a
// 503 saying etcd has no quorum. s2 comes back: writes resume; s1 comes back. No
// acknowledged write is missing at the end.
func TestLosingServers(t *testing.T) {
	const ns = "writer"
	servers[0].MustKubectl(t, "create", "namespace", ns)
	w := startWriter(ns)
	waitAcked := func(what string, more int64, within time.Duration) time.Duration {
		t.Helper()
		from, start := w.acked.Load(), time.Now()
		framework.Eventually(t, within, func() error {
			if n := w.acked.Load() - from; n < more {
				return fmt.Errorf("%s: %d acknowledged writes, want %d", what, n, more)
			}
			return nil
		})
		return time.Since(start)
	}
	waitAcked("all servers up", 20, 30*time.Second)

	servers[0].kill()
	killedAt := time.Now()
	framework.Eventually(t, 10*time.Second, func() error {
		_, err := servers[1].Kubectl("-n", ns, "get", "configmaps", "-o", "name")
		return err
	})
	took := waitAcked("s1 killed", 20, 30*time.Second)
	t.Logf("s1 killed: 20 more writes acknowledged by s2/s3 within %.1fs", took.Seconds())
	want := wantEndpoints(servers[1:]...)
	framework.Eventually(t, 20*time.Second, func() error {
		if got, err := endpointPorts(servers[1]); err != nil || got != want {
			return fmt.Errorf("kubernetes endpoints on ports %q (%v), want %q", got, err, want)
		}
		return nil
	})
	t.Logf("s1 killed: it left the kubernetes endpoints %.1fs later", time.Since(killedAt).Seconds())

	servers[1].kill()
	var refused string
	framework.Eventually(t, 30*time.Second, func() error {
		_, err := servers[2].Client.CoreV1().ConfigMaps(ns).Create(context.Background(),
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "no-quorum"}}, metav1.CreateOptions{})
		if err == nil {
			return errors.New("a write succeeded with 1 of 3 servers")
		}
		if !apierrors.IsServiceUnavailable(err) {
			return fmt.Errorf("write refused, but not with 503: %v", err)
		}
		_, kerr := servers[2].Kubectl("-n", ns, "create", "configmap", "no-quorum")
		if kerr == nil || !strings.Contains(kerr.Error(), "no quorum") {
			return fmt.Errorf("kubectl: %v, want a message saying etcd has no quorum", kerr)
		}
		refused = kerr.Error()
		return nil
	})
	t.Logf("1 of 3: %s", lastLine(refused))

	if err := servers[1].revive(); err != nil {
		t.Fatal(err)
	}
	took = waitAcked("s2 back", 20, 60*time.Second)
	t.Logf("s2 back: writes resumed within %.1fs of its readiness", took.Seconds())
	if err := servers[0].revive(); err != nil {
		t.Fatal(err)
	}
	waitAcked("s1 back", 10, 30*time.Second)
	w.stop()

	list, err := servers[0].Client.CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, cm := range list.Items {
		have[cm.Name] = true
	}
	var lost []string
	for name := range w.names {
		if !have[name] {
			lost = append(lost, name)
		}
	}
	t.Logf("writer: %d creates acknowledged, %d failed; %d objects stored", w.acked.Load(), w.failed.Load(), len(list.Items))
	if len(lost) > 0 {
		t.Fatalf("%d acknowledged creates are missing: %v", len(lost), lost)
	}
}

// writer creates ConfigMaps one after another, trying the servers in turn.
type writer struct {
	acked, failed atomic.Int64
	names         map[string]bool
	mu            sync.Mutex
	cancel        context.CancelFunc
	done          chan struct{}
}

func startWriter(ns string) *writer {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writer{names: map[string]bool{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ctx.Err() == nil; i++ {
			s := servers[i%len(servers)]
			name := fmt.Sprintf("cm-%05d", i)
			rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := s.Client.CoreV1().ConfigMaps(ns).Create(rctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			rcancel()
			if err != nil {
				w.failed.Add(1)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			w.mu.Lock()
			w.names[name] = true
			w.mu.Unlock()
			w.acked.Add(1)
		}
	}()
	return w
}

func (w *writer) stop() {
	w.cancel()
	<-w.done
}
