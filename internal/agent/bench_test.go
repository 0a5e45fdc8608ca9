package agent

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"skiff/internal/testserver"
)

// BenchmarkPodStartup measures create → Running for pods started one after another on
// one node with the image present (run with -benchtime=20x): p50 and p99 in ms.
func BenchmarkPodStartup(b *testing.B) {
	requirePrerequisites(b)
	srv := testserver.Start(b)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	startControllers(b, ctx, srv)
	if err := srv.Registry.EnsureBuiltins(buildImageBinaries(b)); err != nil {
		b.Fatal(err)
	}
	startAgent(b, srv, "kl-bench", false)
	// Warm up: the first pod pulls pause and toolbox.
	if _, err := startPodTimed(ctx, srv.Client, "warm"); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := startPodTimed(ctx, srv.Client, fmt.Sprintf("p%d", i))
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, d)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Milliseconds()), "p99-ms")
}

// startPodTimed creates a serving pod and waits, through a watch, for it to run.
func startPodTimed(ctx context.Context, c kubernetes.Interface, name string) (time.Duration, error) {
	w, err := c.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	start := time.Now()
	if _, err := c.CoreV1().Pods("default").Create(ctx, servePod(name, "kl-bench", 1), metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	timeout := time.After(60 * time.Second)
	for {
		select {
		case ev := <-w.ResultChan():
			if p, ok := ev.Object.(*corev1.Pod); ok && p.Status.Phase == corev1.PodRunning {
				return time.Since(start), nil
			}
		case <-timeout:
			return 0, fmt.Errorf("pod %s not Running within 60s", name)
		}
	}
}
