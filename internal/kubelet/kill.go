package kubelet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"

	"skiff/internal/kubelet/cri"
)

// terminate carries out a graceful deletion: preStop hooks and SIGTERM, SIGKILL after
// the grace period, the sandbox torn down, the final status written, and then the pod
// object removed (grace 0), which is the API server's sign that the node is done.
func (w *podWorker) terminate(ctx context.Context, pod *corev1.Pod, rt *podRuntime) time.Duration {
	w.stopAll(ctx, pod, rt, gracePeriod(pod), "Killing")
	rt, err := w.k.runtime.podRuntime(ctx, w.uid)
	if err != nil || rt.anyRunning() {
		return time.Second
	}
	p := pod.DeepCopy()
	p.Status.Phase = finalPhase(pod, rt)
	st := computeStatus(statusInput{Pod: p, Runtime: rt, Waiting: w.waiting, HostIPs: w.k.cfg.NodeIPs, Now: time.Now()})
	w.putStatus(ctx, pod, st)
	err = deletePodObject(ctx, w.k.client, pod)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		w.log().Warn("deleting the pod object failed", "err", err)
		return 2 * time.Second
	}
	w.log().Info("pod terminated")
	return 2 * time.Second
}

// finalPhase is the phase of a pod whose containers all stopped: Succeeded only if
// every app container exited 0.
func finalPhase(pod *corev1.Pod, rt *podRuntime) corev1.PodPhase {
	if isTerminal(pod) {
		return pod.Status.Phase
	}
	for i := range pod.Spec.Containers {
		cur, _ := rt.latest(pod.Spec.Containers[i].Name)
		if cur == nil || cur.ExitCode != 0 {
			return corev1.PodFailed
		}
	}
	return corev1.PodSucceeded
}

// stopAll stops every container (app containers together, then sidecars in reverse
// order, as they must outlive what they serve) and then the sandboxes. pod may be nil
// when the API no longer has it; then no hooks run.
func (w *podWorker) stopAll(ctx context.Context, pod *corev1.Pod, rt *podRuntime, grace int64, event string) {
	var apps, sidecars []*runtimeContainer
	for i := range rt.Containers {
		c := &rt.Containers[i]
		if !c.running() && c.State != runtimeapi.ContainerState_CONTAINER_CREATED {
			continue
		}
		if c.Init == "sidecar" {
			sidecars = append(sidecars, c)
		} else {
			apps = append(apps, c)
		}
	}
	deadline := time.Now().Add(time.Duration(grace) * time.Second)
	w.stopParallel(ctx, pod, apps, deadline, event)
	slices.Reverse(sidecars)
	for _, c := range sidecars {
		w.stopParallel(ctx, pod, []*runtimeContainer{c}, deadline, event)
	}
	for _, sb := range rt.Sandboxes {
		if !sb.Ready {
			continue
		}
		if err := w.k.runtime.runtime.StopPodSandbox(ctx, sb.ID); err != nil {
			w.log().Warn("stopping sandbox failed", "sandbox", sb.ID, "err", err)
		}
	}
}

func (w *podWorker) stopParallel(ctx context.Context, pod *corev1.Pod, cs []*runtimeContainer, deadline time.Time, event string) {
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.stopContainer(ctx, pod, c, deadline, event)
		}()
	}
	wg.Wait()
}

// stopContainer runs the preStop hook within the grace period, then asks the
// runtime to stop the container with what remains of it (SIGTERM, then SIGKILL).
func (w *podWorker) stopContainer(ctx context.Context, pod *corev1.Pod, c *runtimeContainer, deadline time.Time, event string) {
	if pod != nil {
		if event != "" {
			w.k.recorder.Eventf(pod, corev1.EventTypeNormal, event, "Stopping container %s", c.Name)
		}
		if spec := findContainer(pod, c.Name); spec != nil && spec.Lifecycle != nil && spec.Lifecycle.PreStop != nil && c.running() {
			hctx, cancel := context.WithDeadline(ctx, deadline)
			if err := w.runHook(hctx, pod, c, spec, spec.Lifecycle.PreStop); err != nil {
				w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %v", err)
			}
			cancel()
		}
	}
	timeout := int64(time.Until(deadline).Round(time.Second) / time.Second)
	if pod == nil && c.Grace > 0 {
		timeout = min(timeout, c.Grace)
	}
	if err := w.k.runtime.runtime.StopContainer(ctx, c.ID, max(timeout, 0)); err != nil {
		w.log().Warn("stopping container failed", "container", c.Name, "err", err)
	}
}

// killStale stops containers that belong to an old sandbox or to no container of
// the spec.
func (w *podWorker) killStale(ctx context.Context, cs []*runtimeContainer) {
	for _, c := range cs {
		w.stopContainer(ctx, nil, c, time.Now().Add(2*time.Second), "")
	}
}

// runHook runs an exec or httpGet lifecycle handler against a running container.
func (w *podWorker) runHook(ctx context.Context, pod *corev1.Pod, c *runtimeContainer, spec *corev1.Container, h *corev1.LifecycleHandler) error {
	switch {
	case h.Exec != nil:
		timeout := int64(10)
		if dl, ok := ctx.Deadline(); ok {
			timeout = max(int64(time.Until(dl)/time.Second), 1)
		}
		_, stderr, err := w.k.runtime.runtime.ExecSync(ctx, c.ID, h.Exec.Command, time.Duration(timeout)*time.Second)
		var exit *cri.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("command %q exited with %d: %s", h.Exec.Command, exit.Code, stderr)
		}
		if err != nil {
			return err
		}
	case h.HTTPGet != nil:
		return httpHook(ctx, pod, spec, h.HTTPGet)
	case h.Sleep != nil:
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		}
	}
	return nil
}

func httpHook(ctx context.Context, pod *corev1.Pod, spec *corev1.Container, g *corev1.HTTPGetAction) error {
	host := g.Host
	if host == "" {
		host = pod.Status.PodIP
	}
	port, err := resolvePort(g.Port, spec)
	if err != nil {
		return err
	}
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, strconv.Itoa(port)), g.Path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	for _, h := range g.HTTPHeaders {
		req.Header.Add(h.Name, h.Value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// resolvePort turns a port number or a named container port into a number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("container %s has no port named %q", c.Name, p.StrVal)
}

// deletePodObject removes the pod object now (grace 0), only if it is still the same
// pod. The options go as JSON whatever the client's content type: every API server
// decodes a JSON DeleteOptions body.
func deletePodObject(ctx context.Context, c kubernetes.Interface, pod *corev1.Pod) error {
	opts := metav1.DeleteOptions{
		TypeMeta:           metav1.TypeMeta{APIVersion: "v1", Kind: "DeleteOptions"},
		GracePeriodSeconds: ptr.To[int64](0), Preconditions: &metav1.Preconditions{UID: &pod.UID}}
	if rc, ok := c.CoreV1().RESTClient().(*rest.RESTClient); !ok || rc == nil {
		// client-go's fake clientset (the lifecycle tests) has no REST client.
		return c.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, opts)
	}
	body, err := json.Marshal(opts)
	if err != nil {
		return err
	}
	return c.CoreV1().RESTClient().Delete().Namespace(pod.Namespace).Resource("pods").Name(pod.Name).
		SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Error()
}
