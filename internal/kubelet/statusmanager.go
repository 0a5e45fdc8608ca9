package kubelet

import (
	"context"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// statusManager writes the pod statuses the workers compute to the API server and
// remembers what it wrote: the informer's copy lags behind a write, and a worker
// that read the older copy would compute from, and compare against, a stale status.
type statusManager struct {
	client kubernetes.Interface
	mu     sync.Mutex
	latest map[types.UID]*corev1.Pod // as last written
}

func newStatusManager(c kubernetes.Interface) *statusManager {
	return &statusManager{client: c, latest: map[types.UID]*corev1.Pod{}}
}

// newest returns the newer of pod (the informer's) and the one last written.
func (m *statusManager) newest(pod *corev1.Pod) *corev1.Pod {
	if pod == nil {
		return nil
	}
	m.mu.Lock()
	w := m.latest[pod.UID]
	m.mu.Unlock()
	if w == nil {
		return pod
	}
	a, _ := strconv.ParseInt(pod.ResourceVersion, 10, 64)
	b, _ := strconv.ParseInt(w.ResourceVersion, 10, 64)
	if b > a {
		return w
	}
	return pod
}

// put writes st as pod's status unless it is already that, and reports whether it
// wrote; on a conflict it writes it over the pod as the API holds it now (the
// kubelet owns the status).
func (m *statusManager) put(ctx context.Context, pod *corev1.Pod, st corev1.PodStatus) (bool, error) {
	if equality.Semantic.DeepEqual(pod.Status, st) {
		return false, nil
	}
	p := pod.DeepCopy()
	p.Status = st
	pods := m.client.CoreV1().Pods(pod.Namespace)
	updated, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		fresh, gerr := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if gerr != nil || fresh.UID != pod.UID {
			return false, nil
		}
		fresh.Status = st
		updated, err = pods.UpdateStatus(ctx, fresh, metav1.UpdateOptions{})
	}
	if err != nil {
		return false, err
	}
	m.mu.Lock()
	m.latest[pod.UID] = updated
	m.mu.Unlock()
	return true, nil
}

// forget drops what was remembered of a pod that left the node.
func (m *statusManager) forget(uid types.UID) {
	m.mu.Lock()
	delete(m.latest, uid)
	m.mu.Unlock()
}
