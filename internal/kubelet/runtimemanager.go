package kubelet

import (
	"context"
	"runtime"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff/internal/kubelet/cri"
)

// runtimeManager is the pod workers' view of the container runtime: sandboxes,
// containers and images through the CRI RuntimeService and ImageManagerService
// interfaces, so the pod lifecycle runs against containerd in the agent and against
// k8s.io/cri-api's fakes in tests.
type runtimeManager struct {
	runtime internalapi.RuntimeService
	images  internalapi.ImageManagerService
	node    string
	// slots bounds the sandbox creations and image checks in flight: many pods
	// created at once otherwise queue inside the runtime (CNI, snapshotter) and each
	// waits for all; with a bound they finish in order, and the first ones run soon.
	slots chan struct{}
	// seen is each pod's runtime signature as its worker last read it, so the PLEG
	// wakes a worker only for what it has not seen.
	seen sync.Map // types.UID -> string
}

// startParallelism is how many sandboxes are set up at once: each starts a shim
// and runs the CNI plugins, mostly CPU bound.
var startParallelism = max(4, 2*runtime.NumCPU())

func newRuntimeManager(rs internalapi.RuntimeService, is internalapi.ImageManagerService, node string) *runtimeManager {
	return &runtimeManager{runtime: rs, images: is, node: node, slots: make(chan struct{}, startParallelism)}
}

// acquire takes a slot of the start pool; release gives it back.
func (m *runtimeManager) acquire(ctx context.Context) bool {
	select {
	case m.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (m *runtimeManager) release() { <-m.slots }

// podRuntime reads the pod's sandboxes and containers, for its worker.
func (m *runtimeManager) podRuntime(ctx context.Context, uid types.UID) (*podRuntime, error) {
	rt, err := fetchPodRuntime(ctx, m, m.node, uid)
	if err == nil {
		m.seen.Store(uid, rt.signature())
	}
	return rt, err
}

// seenBy reports whether the pod's worker last read the runtime state sig.
func (m *runtimeManager) seenBy(uid types.UID, sig string) bool {
	v, ok := m.seen.Load(uid)
	return ok && v.(string) == sig
}

// forget drops what was remembered of a pod that left the node.
func (m *runtimeManager) forget(uid types.UID) { m.seen.Delete(uid) }

// Sandboxes lists the sandboxes whose labels include sel.
func (m *runtimeManager) Sandboxes(ctx context.Context, sel map[string]string) ([]*runtimeapi.PodSandbox, error) {
	return m.runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: sel})
}

// Containers lists the containers whose labels include sel.
func (m *runtimeManager) Containers(ctx context.Context, sel map[string]string) ([]*runtimeapi.Container, error) {
	return m.runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: sel})
}

// ContainerStatus returns one container's full status.
func (m *runtimeManager) ContainerStatus(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error) {
	r, err := m.runtime.ContainerStatus(ctx, id, false)
	return r.GetStatus(), err
}

// SandboxStatus returns a sandbox's status, including its IPs.
func (m *runtimeManager) SandboxStatus(ctx context.Context, id string) (*runtimeapi.PodSandboxStatus, error) {
	r, err := m.runtime.PodSandboxStatus(ctx, id, false)
	return r.GetStatus(), err
}

// ImagePresent reports whether image is in the runtime's store, and its ID.
func (m *runtimeManager) ImagePresent(ctx context.Context, image string) (bool, string, error) {
	r, err := m.images.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: image}, false)
	if err != nil {
		return false, "", err
	}
	if r.GetImage() == nil {
		return false, "", nil
	}
	return true, r.Image.Id, nil
}

// Pull pulls image and returns its reference.
func (m *runtimeManager) Pull(ctx context.Context, image string) (string, error) {
	return m.images.PullImage(ctx, &runtimeapi.ImageSpec{Image: image}, nil, nil)
}

// runtimeReader is what fetchPodRuntime reads a pod from: the runtime manager, or
// the CRI client itself.
type runtimeReader interface {
	Sandboxes(ctx context.Context, sel map[string]string) ([]*runtimeapi.PodSandbox, error)
	Containers(ctx context.Context, sel map[string]string) ([]*runtimeapi.Container, error)
	ContainerStatus(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error)
	SandboxStatus(ctx context.Context, id string) (*runtimeapi.PodSandboxStatus, error)
}

var _ runtimeReader = (*cri.Client)(nil)
