package apiserver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"skiff/internal/testserver"
)

// BenchmarkRenewLease renews 64 node Leases from 8 clients as kubelets do (an
// update of spec.renewTime by the manager that wrote the lease), so that a CPU
// profile (-cpuprofile) shows the server's cost of a heartbeat.
func BenchmarkRenewLease(b *testing.B) {
	srv := testserver.Start(b)
	ctx := context.Background()
	cfg := *srv.Config
	cfg.QPS, cfg.Burst = 1e6, 1e6
	cfg.ContentType = "application/vnd.kubernetes.protobuf" // as a kubelet sends
	c := kubernetes.NewForConfigOrDie(&cfg)
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-node-lease"}}, metav1.CreateOptions{}); err != nil {
		b.Log(err)
	}
	leases := c.CoordinationV1().Leases("kube-node-lease")
	const n = 64
	held := make([]*coordinationv1.Lease, n)
	for i := range held {
		now := metav1.NewMicroTime(time.Now())
		l, err := leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%d", i)},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(fmt.Sprintf("node-%d", i)), LeaseDurationSeconds: ptr.To[int32](40), RenewTime: &now}},
			metav1.CreateOptions{FieldManager: "kubelet"})
		if err != nil {
			b.Fatal(err)
		}
		held[i] = l
	}
	b.ResetTimer()
	createIn8(b, func(i int) error {
		// Worker w only renews leases w, w+8, ...: no two clients race on one.
		l := held[i%n].DeepCopy()
		now := metav1.NewMicroTime(time.Now())
		l.Spec.RenewTime = &now
		got, err := leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: "kubelet"})
		if err == nil {
			held[i%n] = got
		}
		return err
	})
}

// BenchmarkCreatePod creates pods as the scheduler benchmark does (one container
// with requests, protobuf from the client), so that a CPU profile shows the
// server's cost of the pod creates that bound it.
func BenchmarkCreatePod(b *testing.B) {
	srv := testserver.Start(b)
	ctx := context.Background()
	cfg := *srv.Config
	cfg.QPS, cfg.Burst = 1e6, 1e6
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	c := kubernetes.NewForConfigOrDie(&cfg)
	// Pod admission waits for the namespace's default ServiceAccount, which no
	// controller creates here.
	if _, err := c.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	createIn8(b, func(i int) error {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%05d", i), Labels: map[string]string{"group": fmt.Sprintf("g%d", i%1000)}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "skiff.local/pause:1",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("100Mi")}}}}},
		}
		_, err := c.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		return err
	})
}
