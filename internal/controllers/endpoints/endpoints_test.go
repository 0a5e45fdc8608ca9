package endpoints

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ktypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
)

func pod(name, ip string, ready bool, mutate ...func(*corev1.Pod)) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: ktypes.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func service(mutate ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Labels: map[string]string{"team": "a"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.43.0.10",
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}}},
	}
	for _, m := range mutate {
		m(s)
	}
	return s
}

func addr(name, ip string) corev1.EndpointAddress {
	n := "n1"
	return corev1.EndpointAddress{IP: ip, NodeName: &n, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: name, UID: ktypes.UID("uid-" + name)}}
}

var httpPort = []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}}

func TestSubsets(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want []corev1.EndpointSubset
	}{{
		name: "ready and not ready, sorted by IP",
		svc:  service(),
		pods: []*corev1.Pod{pod("b", "10.0.0.2", true), pod("a", "10.0.0.1", true), pod("c", "10.0.0.3", false)},
		want: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "10.0.0.1"), addr("b", "10.0.0.2")},
			NotReadyAddresses: []corev1.EndpointAddress{addr("c", "10.0.0.3")}, Ports: httpPort}},
	}, {
		name: "publishNotReadyAddresses lists every pod as ready",
		svc:  service(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
		pods: []*corev1.Pod{pod("a", "10.0.0.1", false)},
		want: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "10.0.0.1")}, Ports: httpPort}},
	}, {
		name: "no IP, terminating and finished pods are left out",
		svc:  service(),
		pods: []*corev1.Pod{
			pod("a", "", true),
			pod("b", "10.0.0.2", true, func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }),
			pod("c", "10.0.0.3", false, func(p *corev1.Pod) {
				p.Spec.RestartPolicy, p.Status.Phase = corev1.RestartPolicyNever, corev1.PodSucceeded
			}),
		},
	}, {
		name: "named port resolved per pod splits subsets",
		svc:  service(),
		pods: []*corev1.Pod{pod("a", "10.0.0.1", true), pod("b", "10.0.0.2", true, func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports[0].ContainerPort = 9090
		}), pod("c", "10.0.0.3", true, func(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil })},
		want: []corev1.EndpointSubset{
			{Addresses: []corev1.EndpointAddress{addr("a", "10.0.0.1")}, Ports: httpPort},
			{Addresses: []corev1.EndpointAddress{addr("b", "10.0.0.2")}, Ports: []corev1.EndpointPort{{Name: "http", Port: 9090, Protocol: corev1.ProtocolTCP}}},
		},
	}, {
		name: "stateful pods get their hostname in the governing service",
		svc:  service(func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone; s.Spec.Ports = nil }),
		pods: []*corev1.Pod{pod("db-0", "10.0.0.1", true, func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "db-0", "web" })},
		want: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{func() corev1.EndpointAddress {
			a := addr("db-0", "10.0.0.1")
			a.Hostname = "db-0"
			return a
		}()}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Subsets(tt.svc, tt.pods)); diff != "" {
				t.Errorf("subsets (-want +got):\n%s", diff)
			}
		})
	}
}

func newSyncer(t *testing.T, objs ...any) (*syncer, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset()
	c := &controller.Context{Client: client, Informers: informers.NewSharedInformerFactory(client, 0),
		Recorder: func(string) record.EventRecorder { return record.NewFakeRecorder(10) }}
	New(c)
	s := &syncer{c: c, services: c.Informers.Core().V1().Services().Lister(), pods: c.Informers.Core().V1().Pods().Lister(),
		endpoints: c.Informers.Core().V1().Endpoints().Lister()}
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Service:
			err = c.Informers.Core().V1().Services().Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			err = c.Informers.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *corev1.Endpoints:
			err = c.Informers.Core().V1().Endpoints().Informer().GetIndexer().Add(o)
			_, _ = client.CoreV1().Endpoints(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return s, client
}

func TestSyncWritesEndpoints(t *testing.T) {
	s, client := newSyncer(t, service(), pod("a", "10.0.0.1", true))
	if err := s.sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	ep, err := client.CoreV1().Endpoints("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "10.0.0.1")}, Ports: httpPort}}
	if diff := cmp.Diff(want, ep.Subsets); diff != "" {
		t.Errorf("subsets (-want +got):\n%s", diff)
	}
	if ep.Labels["team"] != "a" {
		t.Errorf("labels %v: want the service's", ep.Labels)
	}
}

func TestSyncDeletesEndpointsOfDeletedService(t *testing.T) {
	s, client := newSyncer(t, &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}})
	if err := s.sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Endpoints("ns").Get(context.Background(), "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("endpoints of a deleted service: got %v, want not found", err)
	}
}

func TestSyncLeavesKubernetesServiceAlone(t *testing.T) {
	svc := service(func(s *corev1.Service) { s.Namespace, s.Name = "default", "kubernetes" })
	s, client := newSyncer(t, svc)
	if err := s.sync(context.Background(), "default/kubernetes"); err != nil {
		t.Fatal(err)
	}
	if n := len(client.Actions()); n != 0 {
		t.Errorf("%d API calls for the kubernetes service, want none", n)
	}
}

// TestUpdatesOfUsersEndpointsAreNotQueued: Endpoints without a Service belong to
// their writer, so an update of one must not reach sync (which would delete it), while
// an update of a Service's Endpoints is queued to be put back.
func TestUpdatesOfUsersEndpointsAreNotQueued(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset()
	c := &controller.Context{Client: client, Informers: informers.NewSharedInformerFactory(client, 0),
		Recorder: func(string) record.EventRecorder { return record.NewFakeRecorder(10) }}
	ctl := New(c)
	c.Informers.Start(ctx.Done())
	c.Informers.WaitForCacheSync(ctx.Done())
	next := func() string {
		t.Helper()
		key, _ := ctl.Queue.Get()
		ctl.Queue.Done(key)
		return key
	}
	if _, err := client.CoreV1().Services("ns").Create(ctx, service(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if k := next(); k != "ns/web" {
		t.Fatalf("queued %q, want the new service", k)
	}
	for _, name := range []string{"orphan", "web"} {
		ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
		if _, err := client.CoreV1().Endpoints("ns").Create(ctx, ep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ep.Labels = map[string]string{"edited": "yes"}
		if _, err := client.CoreV1().Endpoints("ns").Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The informer delivers in order: once web's update is queued, orphan's was seen.
	if k := next(); k != "ns/web" {
		t.Errorf("queued %q after editing a user's Endpoints, want only the service's", k)
	}
}
