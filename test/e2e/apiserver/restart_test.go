package apiserver_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestKillDuringWritesLosesNothing kills the server with SIGKILL in the middle of a
// write load; every write it acknowledged must be there after a restart.
func TestKillDuringWritesLosesNothing(t *testing.T) {
	n := ns(t, "durable")
	cfg, err := clientcmd.BuildConfigFromFlags("", cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	client := kubernetes.NewForConfigOrDie(cfg)
	var mu sync.Mutex
	var acked []string
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				name := fmt.Sprintf("cm-%d-%d", w, i)
				_, err := client.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"i": fmt.Sprint(i)},
				}, metav1.CreateOptions{})
				if err != nil {
					return
				}
				mu.Lock()
				acked = append(acked, name)
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := cluster.Restart(true, "--disable-agent"); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 10 {
		t.Fatalf("only %d writes before the kill; the load did not run", len(acked))
	}
	out := cluster.MustKubectl(t, "-n", n, "get", "configmaps", "-o", "name")
	have := map[string]bool{}
	for _, l := range strings.Fields(out) {
		have[strings.TrimPrefix(l, "configmap/")] = true
	}
	for _, name := range acked {
		if !have[name] {
			t.Errorf("acknowledged configmap %s lost after kill -9", name)
		}
	}
	t.Logf("%d acknowledged writes, all present after kill -9 and restart", len(acked))
}
