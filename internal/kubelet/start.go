package kubelet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff/internal/kubelet/cri"
)

// podLabels are the labels every runtime object of the pod carries.
func (k *Kubelet) podLabels(pod *corev1.Pod) map[string]string {
	return map[string]string{
		cri.LabelPodName: pod.Name, cri.LabelPodNamespace: pod.Namespace,
		cri.LabelPodUID: string(pod.UID), cri.LabelNode: k.cfg.NodeName,
	}
}

func namespaceOptions(pod *corev1.Pod) *runtimeapi.NamespaceOption {
	o := &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD}
	if pod.Spec.HostNetwork {
		o.Network = runtimeapi.NamespaceMode_NODE
	}
	if pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace {
		o.Pid = runtimeapi.NamespaceMode_POD
	}
	if pod.Spec.HostPID {
		o.Pid = runtimeapi.NamespaceMode_NODE
	}
	if pod.Spec.HostIPC {
		o.Ipc = runtimeapi.NamespaceMode_NODE
	}
	return o
}

// sandboxConfig describes the pod's sandbox: its namespaces, cgroup parent, host
// ports and log directory.
func (k *Kubelet) sandboxConfig(pod *corev1.Pod, attempt uint32, parent string) *runtimeapi.PodSandboxConfig {
	labels := maps.Clone(pod.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, k.podLabels(pod))
	hostname := podHostname(pod) // at most 63 characters: sethostname refuses more
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: pod.Name, Namespace: pod.Namespace, Uid: string(pod.UID), Attempt: attempt},
		Hostname:     hostname,
		LogDirectory: k.podLogDir(pod.Namespace, pod.Name, string(pod.UID)),
		Labels:       labels,
		Annotations:  maps.Clone(pod.Annotations),
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent:    parent,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: namespaceOptions(pod), Privileged: anyPrivileged(pod)},
			Sysctls:         podSysctls(pod),
		},
	}
	if pod.Spec.HostNetwork {
		cfg.Hostname = ""
	}
	if k.cfg.DNS != nil {
		cfg.DnsConfig = k.cfg.DNS(pod)
	} else if pod.Spec.DNSPolicy == corev1.DNSNone && pod.Spec.DNSConfig != nil {
		cfg.DnsConfig = &runtimeapi.DNSConfig{Servers: pod.Spec.DNSConfig.Nameservers, Searches: pod.Spec.DNSConfig.Searches}
	}
	for _, c := range allContainers(pod) {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			cfg.PortMappings = append(cfg.PortMappings, &runtimeapi.PortMapping{
				Protocol: protocol(p.Protocol), ContainerPort: p.ContainerPort, HostPort: p.HostPort, HostIp: p.HostIP})
		}
	}
	return cfg
}

func protocol(p corev1.Protocol) runtimeapi.Protocol {
	switch p {
	case corev1.ProtocolUDP:
		return runtimeapi.Protocol_UDP
	case corev1.ProtocolSCTP:
		return runtimeapi.Protocol_SCTP
	}
	return runtimeapi.Protocol_TCP
}

func anyPrivileged(pod *corev1.Pod) bool {
	for _, c := range allContainers(pod) {
		if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
			return true
		}
	}
	return false
}

// createSandbox starts a new sandbox (the pod's network namespace and pause process),
// stopping an old, dead one first.
func (w *podWorker) createSandbox(ctx context.Context, pod *corev1.Pod, rt *podRuntime, parent string) error {
	var attempt uint32
	if old := rt.sandbox(); old != nil {
		attempt = old.Attempt + 1
		w.stopAll(ctx, pod, rt, 0, "")
	}
	handler, err := w.runtimeHandler(ctx, pod)
	if err != nil {
		w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
		return err
	}
	queued := time.Now()
	if !w.k.runtime.acquire(ctx) {
		return ctx.Err()
	}
	defer w.k.runtime.release()
	start := time.Now()
	id, err := w.k.runtime.runtime.RunPodSandbox(ctx, w.k.sandboxConfig(pod, attempt, parent), handler)
	if err != nil {
		w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
		w.log().Warn("creating sandbox failed", "err", err)
		return err
	}
	w.log().Debug("sandbox running", "sandbox", id, "took", time.Since(start), "queued", start.Sub(queued))
	return nil
}

// runtimeHandler is the containerd runtime named by the pod's RuntimeClass ("" for
// the default one).
func (w *podWorker) runtimeHandler(ctx context.Context, pod *corev1.Pod) (string, error) {
	name := pod.Spec.RuntimeClassName
	if name == nil || *name == "" {
		return "", nil
	}
	rc, err := w.k.client.NodeV1().RuntimeClasses().Get(ctx, *name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("RuntimeClass %q: %w", *name, err)
	}
	return rc.Handler, nil
}

// startContainer pulls, creates and starts one container; on failure it records why
// in w.waiting and returns when to retry.
func (w *podWorker) startContainer(ctx context.Context, pod *corev1.Pod, sb *runtimeSandbox, a startAction, parent string) time.Duration {
	c := a.Container
	checked := time.Now()
	imageRef, retry, err := w.ensureImage(ctx, pod, c)
	if err != nil {
		return retry
	}
	w.log().Debug("image ready", "container", c.Name, "took", time.Since(checked))
	if retry, ok := w.ensureImageVolumes(ctx, pod, c); !ok {
		return retry
	}
	cfg, err := w.containerConfig(ctx, pod, c, a, imageRef)
	if err != nil {
		var ce *configError
		reason := "CreateContainerConfigError"
		if !errors.As(err, &ce) {
			reason = "CreateContainerError"
		}
		return w.startFailed(pod, c, reason, err)
	}
	sbCfg := w.k.sandboxConfig(pod, 0, parent)
	start := time.Now()
	created, err := w.k.runtime.runtime.CreateContainer(ctx, sb.ID, cfg, sbCfg)
	if err != nil {
		return w.startFailed(pod, c, "CreateContainerError", err)
	}
	w.k.recorder.Eventf(pod, corev1.EventTypeNormal, "Created", "Created container: %s", c.Name)
	w.k.resizes.created(pod.UID, created, c)
	w.log().Debug("container created", "container", c.Name, "took", time.Since(start))
	start = time.Now()
	if err := w.k.runtime.runtime.StartContainer(ctx, created); err != nil {
		return w.startFailed(pod, c, "RunContainerError", err)
	}
	w.k.recorder.Eventf(pod, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	w.log().Debug("container started", "container", c.Name, "took", time.Since(start))
	if !w.postStart(ctx, pod, c, created) {
		return time.Second
	}
	delete(w.waiting, c.Name)
	if a.Restart {
		w.k.restarts.Retried(restartKey(pod, c.Name), time.Now())
	}
	return 0
}

// startFailed records why c did not start; the event and log line are written once
// per distinct failure, not on every retry.
func (w *podWorker) startFailed(pod *corev1.Pod, c *corev1.Container, reason string, err error) time.Duration {
	wt := corev1.ContainerStateWaiting{Reason: reason, Message: err.Error()}
	if w.waiting[c.Name] != wt {
		w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		w.log().Info("container did not start", "container", c.Name, "reason", reason, "err", err)
	}
	w.waiting[c.Name] = wt
	return 5 * time.Second
}

// ensureImage applies c's pull policy; a failed pull keeps c waiting (see pullImage).
func (w *podWorker) ensureImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (string, time.Duration, error) {
	ref, retry, wt := w.pullImage(ctx, pod, c.Name, c.Image, c.ImagePullPolicy)
	if wt != nil {
		w.waiting[c.Name] = *wt
		return "", retry, errors.New(wt.Message)
	}
	return ref, 0, nil
}

// pullImage applies policy to image and returns its reference. A failed pull
// returns the waiting state it puts its container in, ErrImagePull, and retries wait
// out a backoff shown as ImagePullBackOff; key names what pulls (a container, an
// image volume) in w.pullFailed.
func (w *podWorker) pullImage(ctx context.Context, pod *corev1.Pod, key, image string, policy corev1.PullPolicy) (string, time.Duration, *corev1.ContainerStateWaiting) {
	if policy == "" {
		policy = defaultPullPolicy(image)
	}
	waiting := func(reason, msg string) *corev1.ContainerStateWaiting {
		return &corev1.ContainerStateWaiting{Reason: reason, Message: msg}
	}
	present, id, err := w.k.runtime.ImagePresent(ctx, image)
	if err != nil {
		return "", 5 * time.Second, waiting("ErrImagePull", err.Error())
	}
	if present && policy != corev1.PullAlways {
		w.k.recorder.Eventf(pod, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", image)
		return id, 0, nil
	}
	if policy == corev1.PullNever {
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", image)
		w.k.recorder.Event(pod, corev1.EventTypeWarning, "ErrImageNeverPull", msg)
		return "", 10 * time.Second, waiting("ErrImageNeverPull", msg)
	}
	backoffKey := restartKey(pod, "image:"+image)
	if wait := w.k.pulls.Wait(backoffKey, w.pullFailed[key].at, time.Now()); wait > 0 {
		msg := fmt.Sprintf("Back-off pulling image %q", image)
		w.k.recorder.Event(pod, corev1.EventTypeNormal, "BackOff", msg)
		// The status keeps saying why the last pull failed, as Kubernetes' does.
		return "", wait, waiting("ImagePullBackOff", msg+": "+w.pullFailed[key].err)
	}
	w.k.recorder.Eventf(pod, corev1.EventTypeNormal, "Pulling", "Pulling image %q", image)
	start := time.Now()
	ref, err := w.k.runtime.Pull(ctx, image)
	if err != nil {
		w.k.pulls.Retried(backoffKey, time.Now())
		w.pullFailed[key] = failedPull{at: time.Now(), err: err.Error()}
		msg := fmt.Sprintf("Failed to pull image %q: %v", image, err)
		w.k.recorder.Event(pod, corev1.EventTypeWarning, "Failed", msg)
		w.k.recorder.Event(pod, corev1.EventTypeWarning, "Failed", "Error: ErrImagePull")
		return "", w.k.pulls.Delay(backoffKey), waiting("ErrImagePull", msg)
	}
	w.k.recorder.Eventf(pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s", image, time.Since(start).Round(time.Millisecond))
	return ref, 0, nil
}

// failedPull is a pull that failed, for the back-off before the next.
type failedPull struct {
	at  time.Time
	err string
}

// defaultPullPolicy is Always for :latest or untagged images, IfNotPresent otherwise.
func defaultPullPolicy(image string) corev1.PullPolicy {
	if strings.Contains(image, "@") {
		return corev1.PullIfNotPresent
	}
	slash := strings.LastIndex(image, "/")
	tag := ""
	if i := strings.LastIndex(image, ":"); i > slash {
		tag = image[i+1:]
	}
	if tag == "" || tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// containerConfig builds the CRI container config: environment, mounts, command,
// security context and resources.
func (w *podWorker) containerConfig(ctx context.Context, pod *corev1.Pod, c *corev1.Container, a startAction, imageRef string) (*runtimeapi.ContainerConfig, error) {
	svcEnv := w.k.serviceEnv(pod)
	env, err := resolveEnv(ctx, pod, c, apiObjects{w.k.client}, w.k.machine.capacity(), svcEnv)
	if err != nil {
		return nil, err
	}
	env = withServiceEnv(svcEnv, env)
	vars := map[string]string{}
	kvs := make([]*runtimeapi.KeyValue, 0, len(env))
	for _, e := range env {
		vars[e.Name] = e.Value
		kvs = append(kvs, &runtimeapi.KeyValue{Key: e.Name, Value: []byte(e.Value)})
	}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	mounts, err := w.mounts(c, lookup)
	if err != nil {
		return nil, err
	}
	if mounts, err = w.k.kubeletMounts(pod, c, a.Attempt, mounts); err != nil {
		return nil, err
	}
	if err := w.verifyNonRoot(ctx, pod, c, imageRef); err != nil {
		return nil, err
	}
	labels := w.k.podLabels(pod)
	labels[cri.LabelContainerName] = c.Name
	init := ""
	if a.Init {
		init = "true"
		if isSidecar(c) {
			init = "sidecar"
		}
	}
	cfg := &runtimeapi.ContainerConfig{
		Metadata:   &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: a.Attempt},
		Image:      &runtimeapi.ImageSpec{Image: imageRef, UserSpecifiedImage: c.Image},
		Command:    expandAll(c.Command, lookup),
		Args:       expandAll(c.Args, lookup),
		WorkingDir: c.WorkingDir,
		Envs:       kvs,
		Mounts:     mounts,
		Labels:     labels,
		Annotations: map[string]string{
			cri.AnnotationGrace: strconv.FormatInt(gracePeriod(pod), 10),
			cri.AnnotationInit:  init,
		},
		LogPath:   fmt.Sprintf("%s/%d.log", c.Name, a.Attempt),
		Stdin:     c.Stdin,
		StdinOnce: c.StdinOnce,
		Tty:       c.TTY,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       containerResources(pod, c, w.k.machine.MemoryBytes),
			SecurityContext: securityContext(pod, c),
		},
	}
	maps.Copy(cfg.Annotations, terminationAnnotations(c))
	return cfg, nil
}

func expandAll(in []string, lookup func(string) (string, bool)) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, lookup)
	}
	return out
}

// apiObjects reads ConfigMaps and Secrets from the API server.
type apiObjects struct{ client kubernetes.Interface }

func (a apiObjects) ConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	return a.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
}

func (a apiObjects) Secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	return a.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
}
