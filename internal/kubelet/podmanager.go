package kubelet

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff/internal/kubelet/cri"
)

// relistEvery is the PLEG period. A task's exit reported by the runtime's event
// stream (see watchExits) relists at once; the period finds what no event reports.
const relistEvery = time.Second

// dispatch hands a pod event to the pod's worker, starting one if needed.
func (k *Kubelet) dispatch(ctx context.Context, obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	k.wake(ctx, pod.UID, pod.Namespace, pod.Name)
}

func (k *Kubelet) wake(ctx context.Context, uid types.UID, ns, name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	w, ok := k.workers[string(uid)]
	if !ok {
		slog.Debug("pod worker starts", "pod", ns+"/"+name, "uid", uid)
		w = newPodWorker(k, uid, ns, name)
		k.workers[string(uid)] = w
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			w.run(ctx)
		}()
	}
	w.poke()
}

func (k *Kubelet) wakeAll() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, w := range k.workers {
		w.poke()
	}
}

// workerDone removes w once its pod is gone from both the API and the runtime.
func (k *Kubelet) workerDone(w *podWorker) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.workers[string(w.uid)] == w {
		delete(k.workers, string(w.uid))
	}
}

// getPod returns the pod the worker serves, or nil when the API no longer has it.
func (k *Kubelet) getPod(ns, name string, uid types.UID) *corev1.Pod {
	pod, err := k.podLister.Pods(ns).Get(name)
	if err != nil || pod.UID != uid {
		return nil
	}
	return pod
}

// relistLoop lists the runtime every second and wakes the worker of every pod whose
// containers or sandboxes changed state, including pods the API no longer knows
// (their worker cleans them up).
func (k *Kubelet) relistLoop(ctx context.Context) {
	prev := map[string]string{}
	t := time.NewTicker(relistEvery)
	defer t.Stop()
	for {
		cur, owners, err := k.relist(ctx)
		if err == nil {
			for uid, sig := range cur {
				// A change the pod's worker has seen (it made it, mostly) needs no
				// wake-up: at density those would double the syncs.
				if prev[uid] != sig && !k.runtime.seenBy(types.UID(uid), sig) {
					o := owners[uid]
					k.wake(ctx, types.UID(uid), o[0], o[1])
				}
			}
			prev = cur
		} else if ctx.Err() == nil {
			slog.Warn("relisting the runtime failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-k.relistNudge:
		}
	}
}

// watchExits relists as soon as the runtime reports a container or sandbox exit, so
// a crashed container's worker runs without waiting for the next period. A runtime
// without an event stream leaves the periodic relist alone.
func (k *Kubelet) watchExits(ctx context.Context) {
	nudge := func() {
		select {
		case k.relistNudge <- struct{}{}:
		default:
		}
	}
	wait := relistEvery
	for ctx.Err() == nil {
		start := time.Now()
		err := k.rt.WatchExits(ctx, nudge)
		if status.Code(err) == codes.Unimplemented {
			slog.Info("the runtime has no event stream; container exits are found by relisting", "every", relistEvery)
			return
		}
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			wait = relistEvery // it worked for a while: a fresh failure
		}
		slog.Warn("runtime event stream ended; container exits are found by relisting until it is back", "err", err, "retry", wait)
		nudge() // what happened while it was down
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}

// relist returns a signature of each pod's runtime state, and its namespace and name.
func (k *Kubelet) relist(ctx context.Context) (map[string]string, map[string][2]string, error) {
	sbs, err := k.runtime.Sandboxes(ctx, k.nodeSelector())
	if err != nil {
		return nil, nil, err
	}
	cs, err := k.runtime.Containers(ctx, k.nodeSelector())
	if err != nil {
		return nil, nil, err
	}
	entries := map[string][]string{}
	owners := map[string][2]string{}
	for _, sb := range sbs {
		uid := sb.Labels[cri.LabelPodUID]
		entries[uid] = append(entries[uid], stateEntry(sb.Id, int32(sb.State)))
		owners[uid] = [2]string{sb.Labels[cri.LabelPodNamespace], sb.Labels[cri.LabelPodName]}
	}
	for _, c := range cs {
		uid := c.Labels[cri.LabelPodUID]
		entries[uid] = append(entries[uid], stateEntry(c.Id, int32(c.State)))
		owners[uid] = [2]string{c.Labels[cri.LabelPodNamespace], c.Labels[cri.LabelPodName]}
	}
	sig := make(map[string]string, len(entries))
	for uid, e := range entries {
		sig[uid] = signature(e)
	}
	return sig, owners, nil
}

// stateEntry and signature sum up a pod's runtime state (each sandbox's and
// container's ID and state) the same way from a relist and from a worker's read.
func stateEntry(id string, state int32) string { return fmt.Sprintf("%s=%d", id, state) }

func signature(entries []string) string {
	slices.Sort(entries)
	return strings.Join(entries, ";")
}

// LogPath finds a container's log file for the HTTPS endpoint.
func (k *Kubelet) LogPath(ctx context.Context, ns, name, container string, previous bool) (string, func() bool, error) {
	pod, err := k.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return "", nil, fmt.Errorf("pod %s/%s is not on node %s: %w", ns, name, k.cfg.NodeName, fs.ErrNotExist)
	}
	if err != nil {
		return "", nil, err
	}
	rt, err := fetchPodRuntime(ctx, k.rt, k.cfg.NodeName, pod.UID)
	if err != nil {
		return "", nil, err
	}
	cur, prev := rt.latest(container)
	c := cur
	if previous {
		c = prev
	}
	if c == nil {
		which := "current"
		if previous {
			which = "previous terminated"
		}
		return "", nil, fmt.Errorf("%s container %q in pod %q not found: %w", which, container, name, fs.ErrNotExist)
	}
	id := c.ID
	running := func() bool {
		st, err := k.rt.ContainerStatus(context.Background(), id)
		return err == nil && st.State == runtimeapi.ContainerState_CONTAINER_RUNNING
	}
	return c.LogPath, running, nil
}
