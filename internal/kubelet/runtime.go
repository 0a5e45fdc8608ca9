package kubelet

import (
	"context"
	"slices"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff/internal/kubelet/cri"
)

// runtimeContainer is what the runtime says of one container.
type runtimeContainer struct {
	ID, Name, SandboxID string
	Attempt             uint32
	State               runtimeapi.ContainerState
	CreatedAt           time.Time
	StartedAt           time.Time
	FinishedAt          time.Time
	ExitCode            int32
	Reason, Message     string
	Image, ImageRef     string
	LogPath             string
	Grace               int64 // termination grace period it was created with
	Init                string
	// ProbeKilled: the agent stopped this run because its liveness or startup probe
	// failed; it restarts unless the policy is Never, whatever its exit code.
	ProbeKilled bool
}

func (c *runtimeContainer) running() bool {
	return c.State == runtimeapi.ContainerState_CONTAINER_RUNNING
}
func (c *runtimeContainer) exited() bool {
	return c.State == runtimeapi.ContainerState_CONTAINER_EXITED
}

// runtimeSandbox is what the runtime says of one pod sandbox.
type runtimeSandbox struct {
	ID        string
	Attempt   uint32
	Ready     bool
	IPs       []string
	CreatedAt time.Time
}

// podRuntime is a pod as the runtime holds it; newest first in both lists.
type podRuntime struct {
	Sandboxes  []runtimeSandbox
	Containers []runtimeContainer
}

// sandbox returns the newest sandbox, if any.
func (r *podRuntime) sandbox() *runtimeSandbox {
	if len(r.Sandboxes) == 0 {
		return nil
	}
	return &r.Sandboxes[0]
}

// containers returns the runs of the named container, newest first.
func (r *podRuntime) containers(name string) []*runtimeContainer {
	var out []*runtimeContainer
	for i := range r.Containers {
		if r.Containers[i].Name == name {
			out = append(out, &r.Containers[i])
		}
	}
	return out
}

// latest returns the newest run of name and the one before it.
func (r *podRuntime) latest(name string) (cur, prev *runtimeContainer) {
	runs := r.containers(name)
	if len(runs) > 0 {
		cur = runs[0]
	}
	if len(runs) > 1 {
		prev = runs[1]
	}
	return cur, prev
}

// anyRunning reports whether a container of the pod still runs.
func (r *podRuntime) anyRunning() bool {
	for i := range r.Containers {
		if r.Containers[i].running() || r.Containers[i].State == runtimeapi.ContainerState_CONTAINER_CREATED {
			return true
		}
	}
	return false
}

// signature sums up the state as a relist does (see relist), to tell whether a
// relist found anything the reader of r has not seen.
func (r *podRuntime) signature() string {
	entries := make([]string, 0, len(r.Sandboxes)+len(r.Containers))
	for _, sb := range r.Sandboxes {
		state := runtimeapi.PodSandboxState_SANDBOX_NOTREADY
		if sb.Ready {
			state = runtimeapi.PodSandboxState_SANDBOX_READY
		}
		entries = append(entries, stateEntry(sb.ID, int32(state)))
	}
	for _, c := range r.Containers {
		entries = append(entries, stateEntry(c.ID, int32(c.State)))
	}
	return signature(entries)
}

// fetchPodRuntime reads a pod's sandboxes and containers from the runtime.
func fetchPodRuntime(ctx context.Context, rt runtimeReader, node string, uid types.UID) (*podRuntime, error) {
	sel := map[string]string{cri.LabelPodUID: string(uid), cri.LabelNode: node}
	sbs, err := rt.Sandboxes(ctx, sel)
	if err != nil {
		return nil, err
	}
	cs, err := rt.Containers(ctx, sel)
	if err != nil {
		return nil, err
	}
	out := &podRuntime{}
	for _, sb := range sbs {
		s := runtimeSandbox{ID: sb.Id, Attempt: sb.Metadata.GetAttempt(),
			Ready: sb.State == runtimeapi.PodSandboxState_SANDBOX_READY, CreatedAt: time.Unix(0, sb.CreatedAt)}
		if s.Ready {
			if st, err := rt.SandboxStatus(ctx, sb.Id); err == nil && st.Network != nil && st.Network.Ip != "" {
				s.IPs = append(s.IPs, st.Network.Ip)
				for _, ip := range st.Network.AdditionalIps {
					s.IPs = append(s.IPs, ip.Ip)
				}
			}
		}
		out.Sandboxes = append(out.Sandboxes, s)
	}
	for _, c := range cs {
		st, err := rt.ContainerStatus(ctx, c.Id)
		if err != nil {
			continue // removed between list and status
		}
		rc := fromStatus(st, c.PodSandboxId)
		if rc.exited() {
			if msg := readTerminationMessage(st); msg != "" {
				rc.Message = msg
			}
		}
		out.Containers = append(out.Containers, rc)
	}
	slices.SortFunc(out.Sandboxes, func(a, b runtimeSandbox) int { return b.CreatedAt.Compare(a.CreatedAt) })
	slices.SortFunc(out.Containers, func(a, b runtimeContainer) int {
		if a.Attempt != b.Attempt {
			return int(b.Attempt) - int(a.Attempt)
		}
		return b.CreatedAt.Compare(a.CreatedAt)
	})
	return out, nil
}

func fromStatus(st *runtimeapi.ContainerStatus, sandbox string) runtimeContainer {
	c := runtimeContainer{
		ID: st.Id, Name: st.Labels[cri.LabelContainerName], SandboxID: sandbox,
		Attempt: st.Metadata.GetAttempt(), State: st.State,
		CreatedAt: nsTime(st.CreatedAt), StartedAt: nsTime(st.StartedAt), FinishedAt: nsTime(st.FinishedAt),
		ExitCode: st.ExitCode, Reason: st.Reason, Message: st.Message,
		Image: st.Image.GetImage(), ImageRef: st.ImageRef, LogPath: st.LogPath,
		Init: st.Annotations[cri.AnnotationInit],
	}
	c.Grace, _ = strconv.ParseInt(st.Annotations[cri.AnnotationGrace], 10, 64)
	return c
}

func nsTime(ns int64) time.Time {
	if ns <= 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
