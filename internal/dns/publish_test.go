package dns

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestPublish(t *testing.T) {
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a", UID: "uid-a"}}
	client := fake.NewClientset(node)

	for range 2 { // the second call must change nothing
		if err := Publish(ctx, client, "node-a", net.ParseIP("192.168.1.10"), 53, "10.96.0.10"); err != nil {
			t.Fatal(err)
		}
	}
	if err := Publish(ctx, client, "node-b", net.ParseIP("192.168.1.11"), 1053, "10.96.0.10"); err != nil {
		t.Fatal(err)
	}
	// Nodes whose servers listen on different ports share one Service: none of
	// them rewrites it.
	for _, a := range client.Actions() {
		if a.GetVerb() == "update" && a.GetResource().Resource == "services" {
			t.Errorf("the Service was rewritten when node-b published port 1053")
		}
	}

	svc, err := client.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.96.0.10" || svc.Spec.Selector != nil || svc.Labels["k8s-app"] != "kube-dns" {
		t.Errorf("service: clusterIP %q selector %v labels %v", svc.Spec.ClusterIP, svc.Spec.Selector, svc.Labels)
	}
	var ports []string
	for _, p := range svc.Spec.Ports {
		ports = append(ports, p.Name+"/"+string(p.Protocol)+"/"+strconv.Itoa(int(p.Port)))
	}
	if diff := cmp.Diff([]string{"dns/UDP/53", "dns-tcp/TCP/53", "metrics/TCP/9153"}, ports); diff != "" {
		t.Errorf("service ports (-want +got):\n%s", diff)
	}

	a, err := client.DiscoveryV1().EndpointSlices("kube-system").Get(ctx, "kube-dns-node-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Labels[discoveryv1.LabelServiceName] != "kube-dns" || a.Labels[discoveryv1.LabelManagedBy] != "skiff-dns" {
		t.Errorf("slice labels %v", a.Labels)
	}
	if got := a.Endpoints[0].Addresses; !cmp.Equal(got, []string{"192.168.1.10"}) {
		t.Errorf("node-a addresses %v", got)
	}
	if len(a.OwnerReferences) != 1 || a.OwnerReferences[0].UID != "uid-a" {
		t.Errorf("node-a slice not owned by its Node: %v", a.OwnerReferences)
	}
	b, err := client.DiscoveryV1().EndpointSlices("kube-system").Get(ctx, "kube-dns-node-b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *b.Ports[0].Port != 1053 {
		t.Errorf("node-b port %d, want 1053", *b.Ports[0].Port)
	}

	// The node's address changes: the slice follows.
	if err := Publish(ctx, client, "node-a", net.ParseIP("192.168.1.20"), 53, "10.96.0.10"); err != nil {
		t.Fatal(err)
	}
	a, _ = client.DiscoveryV1().EndpointSlices("kube-system").Get(ctx, "kube-dns-node-a", metav1.GetOptions{})
	if got := a.Endpoints[0].Addresses; !cmp.Equal(got, []string{"192.168.1.20"}) {
		t.Errorf("node-a addresses after move %v", got)
	}

	if err := Unpublish(ctx, client, "node-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DiscoveryV1().EndpointSlices("kube-system").Get(ctx, "kube-dns-node-a", metav1.GetOptions{}); err == nil {
		t.Error("slice still present after Unpublish")
	}
}

func TestPublishRepairsAndRefusesWrongClusterIP(t *testing.T) {
	ctx := context.Background()
	drifted := service("kube-system", "kube-dns", "10.96.0.10")
	drifted.Spec.Selector = map[string]string{"k8s-app": "coredns"}
	client := fake.NewClientset(drifted)
	if err := Publish(ctx, client, "n", net.ParseIP("127.0.0.1"), 53, "10.96.0.10"); err != nil {
		t.Fatal(err)
	}
	svc, _ := client.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if svc.Spec.Selector != nil || len(svc.Spec.Ports) != 3 {
		t.Errorf("drifted service not repaired: selector %v ports %v", svc.Spec.Selector, svc.Spec.Ports)
	}

	err := Publish(ctx, client, "n", net.ParseIP("127.0.0.1"), 53, "10.96.0.53")
	if err == nil || !strings.Contains(err.Error(), "10.96.0.53") {
		t.Errorf("wrong cluster IP not reported: %v", err)
	}
}

func TestKeepPublishedRepairsAndCleansUp(t *testing.T) {
	client := fake.NewClientset()
	slices := client.DiscoveryV1().EndpointSlices("kube-system")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		KeepPublished(ctx, client, "n", net.ParseIP("127.0.0.1"), 53, "10.96.0.10", 20*time.Millisecond)
		close(done)
	}()
	exists := func() bool {
		_, err := slices.Get(context.Background(), "kube-dns-n", metav1.GetOptions{})
		return err == nil
	}
	waitUntil(t, "published", exists)
	if err := slices.Delete(context.Background(), "kube-dns-n", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "republished after deletion", exists)
	cancel()
	<-done
	if exists() {
		t.Error("endpoint slice left behind after a clean stop")
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}
