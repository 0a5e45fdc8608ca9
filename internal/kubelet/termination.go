package kubelet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff/internal/kubelet/cri"
	"skiff/internal/kubelet/logs"
	"skiff/internal/kubelet/volume"
)

// The limits Kubernetes documents for terminationMessagePath and
// FallbackToLogsOnError.
const (
	terminationMessageMaxBytes = 4096
	fallbackLogMaxLines        = 80
	fallbackLogMaxBytes        = 2048
)

func terminationMessagePath(c *corev1.Container) string {
	if c.TerminationMessagePath != "" {
		return c.TerminationMessagePath
	}
	return corev1.TerminationMessagePathDefault
}

// terminationLogMount creates an empty, world-writable file for one run of c (any
// user the container runs as may write its message) and returns the mount that
// puts it at c's terminationMessagePath. The runtime's record of the mount is how
// the message is found again once the run ended.
func (k *Kubelet) terminationLogMount(pod *corev1.Pod, c *corev1.Container, attempt uint32) (*runtimeapi.Mount, error) {
	dir := filepath.Join(volume.PodDir(k.cfg.RootDir, pod.UID), "containers", c.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, strconv.FormatUint(uint64(attempt), 10)+"-termination-log")
	if err := os.WriteFile(path, nil, 0o666); err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o666); err != nil { // the umask narrowed WriteFile's mode
		return nil, err
	}
	return &runtimeapi.Mount{ContainerPath: terminationMessagePath(c), HostPath: path,
		Propagation: runtimeapi.MountPropagation_PROPAGATION_PRIVATE}, nil
}

// terminationAnnotations are recorded on the runtime container for
// readTerminationMessage.
func terminationAnnotations(c *corev1.Container) map[string]string {
	return map[string]string{
		cri.AnnotationTerminationMessagePath:   terminationMessagePath(c),
		cri.AnnotationTerminationMessagePolicy: string(c.TerminationMessagePolicy),
	}
}

// readTerminationMessage is what an exited container left at its
// terminationMessagePath, or with FallbackToLogsOnError and a failed run and no
// message, the tail of its log. "" when there is nothing to say.
func readTerminationMessage(st *runtimeapi.ContainerStatus) string {
	path := st.Annotations[cri.AnnotationTerminationMessagePath]
	if path == "" {
		return ""
	}
	for _, m := range st.Mounts {
		if m.ContainerPath != path {
			continue
		}
		if msg, err := readHead(m.HostPath, terminationMessageMaxBytes); err == nil && len(msg) > 0 {
			return string(msg)
		}
		break
	}
	policy := corev1.TerminationMessagePolicy(st.Annotations[cri.AnnotationTerminationMessagePolicy])
	if policy != corev1.TerminationMessageFallbackToLogsOnError || st.ExitCode == 0 || st.LogPath == "" {
		return ""
	}
	return string(logTail(st.LogPath))
}

func readHead(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

// logTail is the end of a container's log: its last lines, cut to a byte limit from
// the front so the newest output stays.
func logTail(path string) []byte {
	var buf bytes.Buffer
	err := logs.Copy(context.Background(), &buf, path, logs.Options{TailLines: fallbackLogMaxLines}, nil)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	b := buf.Bytes()
	if len(b) > fallbackLogMaxBytes {
		b = b[len(b)-fallbackLogMaxBytes:]
	}
	return b
}
