package volume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
)

// Config is what the kubelet gives the volume manager.
type Config struct {
	Root     string // the agent's kubelet directory
	NodeName string // whose PodCertificateRequests the kubelet files and follows
	Client   kubernetes.Interface
	Recorder record.EventRecorder
	// Wake asks the pod's worker to sync again (a projected object changed).
	Wake func(uid types.UID, ns, name string)
	// Resource resolves resourceFieldRef items of downwardAPI volumes.
	Resource ResourceFunc
	// CSI publishes CSI volumes (persistent and inline); nil when the node has no CSI.
	CSI CSI
	// Images mounts image volumes; nil when the node's runtime cannot.
	Images Images
}

// Images makes read-only views of pulled images' root filesystems on the host, for
// image volumes (internal/kubelet/imageview).
type Images interface {
	// Mount shows image at target as the volume name of pod uid; a view already
	// mounted there is kept.
	Mount(ctx context.Context, uid types.UID, name, image, target string) error
	// Unmount removes every view of pod uid.
	Unmount(ctx context.Context, uid types.UID) error
}

// CSI is the node's CSI side (internal/csi): it publishes a pod's CSI volumes at a
// target directory and unpublishes them when the pod is gone.
type CSI interface {
	PublishVolume(ctx context.Context, pod *corev1.Pod, volume string, pv *corev1.PersistentVolume, readOnly bool, target string) error
	PublishInline(ctx context.Context, pod *corev1.Pod, volume string, src *corev1.CSIVolumeSource, target string) error
	Unpublish(ctx context.Context, uid types.UID) error
}

// Manager prepares and removes pods' volumes. Setup is idempotent: the pod worker
// calls it on every sync, which is how updated ConfigMaps, Secrets and expiring
// tokens reach running containers.
type Manager struct {
	cfg     Config
	objects *objectCache
	certs   *podCerts

	mu     sync.Mutex
	refs   map[types.UID]podRefs // what each pod projects, to wake it on change
	tokens map[string]token      // by uid/volume/path
	claims map[string]string     // host path of a bound claim, by uid/volume
	failed map[string]string     // last failure reported as an event, by uid/volume
	images map[string]string     // image a mounted image volume shows, by uid/volume
}

type podRefs struct {
	ns, name string
	objects  map[string]bool // "configmap/<name>", "secret/<name>"
}

// New returns a manager whose watches live as long as ctx.
func New(ctx context.Context, cfg Config) *Manager {
	m := &Manager{cfg: cfg, refs: map[types.UID]podRefs{}, tokens: map[string]token{},
		claims: map[string]string{}, failed: map[string]string{}, images: map[string]string{}}
	m.objects = &objectCache{ctx: ctx, client: cfg.Client, onChange: m.objectChanged}
	m.certs = newPodCerts(ctx, cfg.Client, cfg.NodeName, cfg.Wake)
	return m
}

// Pod is the result of preparing one pod's volumes.
type Pod struct {
	volumes map[string]prepared
	errs    map[string]error
}

type prepared struct {
	path     string
	readOnly bool   // the source is read-only whatever the mount says
	image    string // the image an image volume shows
}

// Setup prepares every volume of pod. Failures are kept per volume: only the
// containers that mount a failed volume wait.
func (m *Manager) Setup(ctx context.Context, pod *corev1.Pod) *Pod {
	out := &Pod{volumes: map[string]prepared{}, errs: map[string]error{}}
	refs := podRefs{ns: pod.Namespace, name: pod.Name, objects: map[string]bool{}}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		p, err := m.setupVolume(ctx, pod, v, refs.objects)
		m.report(pod, v.Name, err)
		if err != nil {
			out.errs[v.Name] = err
			continue
		}
		out.volumes[v.Name] = p
	}
	m.mu.Lock()
	m.refs[pod.UID] = refs
	used := m.usedObjects()
	m.mu.Unlock()
	m.objects.keepOnly(used)
	return out
}

// usedObjects are the objects some pod projects; callers hold m.mu.
func (m *Manager) usedObjects() map[objectKey]bool {
	used := map[objectKey]bool{}
	for _, r := range m.refs {
		for ref := range r.objects {
			kind, name, _ := strings.Cut(ref, "/")
			used[objectKey{kind, r.ns, name}] = true
		}
	}
	return used
}

// report records a FailedMount event once per distinct failure of a volume.
func (m *Manager) report(pod *corev1.Pod, volume string, err error) {
	key := string(pod.UID) + "/" + volume
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil || errors.Is(err, errImageNotMounted) {
		delete(m.failed, key)
		return
	}
	if m.failed[key] == err.Error() {
		return
	}
	m.failed[key] = err.Error()
	slog.Info("volume setup failed", "pod", pod.Namespace+"/"+pod.Name, "volume", volume, "err", err)
	if m.cfg.Recorder != nil {
		m.cfg.Recorder.Eventf(pod, corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed for volume %q : %v", volume, err)
	}
}

func (m *Manager) setupVolume(ctx context.Context, pod *corev1.Pod, v *corev1.Volume, refs map[string]bool) (prepared, error) {
	vs := &v.VolumeSource
	dir := Dir(m.cfg.Root, pod.UID, pluginOf(vs), v.Name)
	switch {
	case vs.EmptyDir != nil:
		if err := setupEmptyDir(dir, vs.EmptyDir); err != nil {
			return prepared{}, err
		}
		// The directory starts empty: its set-group-ID bit hands fsGroup down to
		// whatever the pod creates, so only the directory itself needs it.
		if gid := fsGroup(pod); gid != nil {
			return prepared{path: dir}, own(dir, *gid, false)
		}
		return prepared{path: dir}, nil
	case vs.HostPath != nil:
		return prepared{path: vs.HostPath.Path}, CheckHostPath(vs.HostPath.Path, vs.HostPath.Type)
	case vs.PersistentVolumeClaim != nil:
		ro := vs.PersistentVolumeClaim.ReadOnly
		path, err := m.claimPath(ctx, pod, v.Name, vs.PersistentVolumeClaim.ClaimName, ro, false)
		return prepared{path: path, readOnly: ro}, err
	case vs.Ephemeral != nil:
		path, err := m.claimPath(ctx, pod, v.Name, pod.Name+"-"+v.Name, false, true)
		return prepared{path: path}, err
	case vs.Image != nil:
		return m.imageVolume(pod.UID, v.Name)
	case vs.CSI != nil && m.cfg.CSI != nil:
		target := csiTarget(m.cfg.Root, pod.UID, v.Name)
		return prepared{path: target}, m.cfg.CSI.PublishInline(ctx, pod, v.Name, vs.CSI, target)
	}
	var files map[string]File
	var err error
	switch {
	case vs.ConfigMap != nil:
		files, err = m.configMapFiles(ctx, pod.Namespace, vs.ConfigMap.Name, vs.ConfigMap.Items, vs.ConfigMap.DefaultMode, vs.ConfigMap.Optional, refs)
	case vs.Secret != nil:
		files, err = m.secretFiles(ctx, pod.Namespace, vs.Secret.SecretName, vs.Secret.Items, vs.Secret.DefaultMode, vs.Secret.Optional, refs)
	case vs.DownwardAPI != nil:
		files, err = DownwardFiles(pod, vs.DownwardAPI.Items, vs.DownwardAPI.DefaultMode, m.cfg.Resource)
	case vs.Projected != nil:
		files, err = m.projectedFiles(ctx, pod, v.Name, vs.Projected, refs)
	default:
		return prepared{}, fmt.Errorf("volume %q: this volume type is not supported on this node", v.Name)
	}
	if err != nil {
		return prepared{}, err
	}
	// Secrets and tokens live in memory only, never on the node's disk, as in
	// Kubernetes; the tmpfs is removed with the pod.
	if vs.Secret != nil || vs.Projected != nil {
		if err := ensureTmpfs(dir, "mode=0755"); err != nil {
			return prepared{}, err
		}
	}
	changed, err := WriteAtomic(dir, files)
	if err != nil {
		return prepared{}, err
	}
	if gid := fsGroup(pod); gid != nil && changed {
		if err := setOwnership(dir, *gid, true); err != nil {
			return prepared{}, err
		}
	}
	// Projected files are read-only inside the container, as in Kubernetes.
	return prepared{path: dir, readOnly: true}, nil
}

func (m *Manager) configMapFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, def *int32, optional *bool, refs map[string]bool) (map[string]File, error) {
	refs["configmap/"+name] = true
	cm, err := m.objects.configMap(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return ConfigMapFiles(ns, name, cm, items, def, optional != nil && *optional)
}

func (m *Manager) secretFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, def *int32, optional *bool, refs map[string]bool) (map[string]File, error) {
	refs["secret/"+name] = true
	s, err := m.objects.secret(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return SecretFiles(ns, name, s, items, def, optional != nil && *optional)
}

// projectedFiles merges the sources of a projected volume into one payload.
func (m *Manager) projectedFiles(ctx context.Context, pod *corev1.Pod, volume string, p *corev1.ProjectedVolumeSource, refs map[string]bool) (map[string]File, error) {
	out := map[string]File{}
	for i, src := range p.Sources {
		var files map[string]File
		var err error
		switch {
		case src.ConfigMap != nil:
			files, err = m.configMapFiles(ctx, pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, p.DefaultMode, src.ConfigMap.Optional, refs)
		case src.Secret != nil:
			files, err = m.secretFiles(ctx, pod.Namespace, src.Secret.Name, src.Secret.Items, p.DefaultMode, src.Secret.Optional, refs)
		case src.DownwardAPI != nil:
			files, err = DownwardFiles(pod, src.DownwardAPI.Items, p.DefaultMode, m.cfg.Resource)
		case src.ClusterTrustBundle != nil:
			files, err = m.trustBundleFiles(ctx, src.ClusterTrustBundle, p.DefaultMode)
		case src.ServiceAccountToken != nil:
			var tok string
			tok, err = m.token(ctx, pod, volume, src.ServiceAccountToken)
			files = map[string]File{src.ServiceAccountToken.Path: {Data: []byte(tok), Mode: fileMode(nil, p.DefaultMode)}}
		case src.PodCertificate != nil:
			files, err = m.certs.files(ctx, pod, volume, i, src.PodCertificate, p.DefaultMode)
		default:
			err = fmt.Errorf("projected volume %q: source type not supported on this node", volume)
		}
		if err != nil {
			return nil, err
		}
		for k, f := range files {
			out[k] = f
		}
	}
	return out, nil
}

// objectChanged wakes every pod that projects the object.
func (m *Manager) objectChanged(kind, ns, name string) {
	key := kind + "/" + name
	type pod struct {
		uid      types.UID
		ns, name string
	}
	var wake []pod
	m.mu.Lock()
	for uid, r := range m.refs {
		if r.ns == ns && r.objects[key] {
			wake = append(wake, pod{uid, r.ns, r.name})
		}
	}
	m.mu.Unlock()
	for _, p := range wake {
		if m.cfg.Wake != nil {
			m.cfg.Wake(p.uid, p.ns, p.name)
		}
	}
}

// Teardown unmounts and removes the pod's volume directories, once its containers
// are gone. Volumes used in place (hostPath, claims) are left alone.
func (m *Manager) Teardown(uid types.UID) error {
	if m.cfg.CSI != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		err := m.cfg.CSI.Unpublish(ctx, uid)
		cancel()
		if err != nil {
			return err
		}
	}
	if m.cfg.Images != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := m.cfg.Images.Unmount(ctx, uid)
		cancel()
		if err != nil {
			return err
		}
	}
	if err := removePodVolumes(PodDir(m.cfg.Root, uid)); err != nil {
		return err
	}
	m.certs.forget(uid)
	m.mu.Lock()
	delete(m.refs, uid)
	prefix := string(uid) + "/"
	forgetPrefix(m.tokens, prefix)
	forgetPrefix(m.claims, prefix)
	forgetPrefix(m.failed, prefix)
	forgetPrefix(m.images, prefix)
	used := m.usedObjects()
	m.mu.Unlock()
	m.objects.keepOnly(used)
	return nil
}

func forgetPrefix[V any](m map[string]V, prefix string) {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			delete(m, k)
		}
	}
}

// removePodVolumes unmounts what is mounted below a pod's directory and removes it.
func removePodVolumes(podDir string) error {
	if _, err := os.Stat(podDir); err != nil {
		return nil
	}
	if err := UnmountUnder(podDir, 0); err != nil {
		return err
	}
	return os.RemoveAll(podDir)
}
