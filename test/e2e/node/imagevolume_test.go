package node_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"skiff/test/e2e/framework"
)

const dataImage = "skiff.local/e2e-image-volume:1"

// layer is a tar layer of files (path -> content), directories made as needed.
func layer(t *testing.T, files map[string]string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for path, content := range files {
		for d := filepath.Dir(path); d != "." && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: path, Mode: 0o644, Size: int64(len(content))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// importDataImage builds a two-layer image, the second overriding a file of the
// first (so the volume must merge them as a container's root filesystem does), and
// imports it into the cluster's registry.
func importDataImage(t *testing.T) {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image,
		layer(t, map[string]string{"etc/os-release": "NAME=\"skiff e2e\"\n", "data/a.txt": "from layer one\n", "data/b.txt": "overridden\n"}),
		layer(t, map[string]string{"data/b.txt": "from layer two\n", "data/sub/c.txt": "in the subPath\n"}))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(dataImage)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "data.tar")
	if err := tarball.WriteToFile(archive, ref, img); err != nil {
		t.Fatal(err)
	}
	if out, err := cluster.Skiff("image", "import", "--kubeconfig", cluster.Kubeconfig, archive); err != nil {
		t.Fatalf("skiff image import: %v\n%s", err, out)
	}
}

// imageViews lists the snapshot keys of the node's image-volume views.
func imageViews(t *testing.T) string {
	t.Helper()
	var keys []string
	for _, line := range strings.Split(ctr(t, "snapshots", "ls"), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "skiff/image-volume/") {
			keys = append(keys, f[0])
		}
	}
	return strings.Join(keys, " ")
}

// TestImageVolume: an image volume shows the merged layers of a locally built image,
// read-only, with a subPath; a missing image says so; deleting the pod leaves no
// mount or snapshot behind.
func TestImageVolume(t *testing.T) {
	_, err := exec.LookPath("ctr")
	framework.Require(t, err == nil, "ctr (containerd's client, installed with containerd)")
	importDataImage(t)
	n := ns(t, "imagevol")
	apply(t, n, `
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  containers:
  - name: c
    image: `+toolbox+`
    command: [sleep, "3600"]
    volumeMounts:
    - {name: data, mountPath: /volume}
    - {name: data, mountPath: /sub, subPath: data/sub}
  volumes:
  - name: data
    image: {reference: `+dataImage+`, pullPolicy: Always}
`)
	running(t, n, "reader")
	for path, want := range map[string]string{
		"/volume/data/a.txt":     "from layer one\n",
		"/volume/data/b.txt":     "from layer two\n",
		"/volume/etc/os-release": "NAME=\"skiff e2e\"\n",
		"/sub/c.txt":             "in the subPath\n",
	} {
		if out, err := execOut(n, "reader", "", "cat", path); err != nil || out != want {
			t.Errorf("cat %s = %q, %v; want %q", path, out, err, want)
		}
	}
	if out, err := execOut(n, "reader", "", "touch", "/volume/data/new"); err == nil || !strings.Contains(err.Error(), "Read-only file system") {
		t.Errorf("writing into the image volume: %q, %v; want a read-only file system", out, err)
	}
	events := cluster.MustKubectl(t, "-n", n, "get", "events", "--field-selector", "involvedObject.name=reader")
	if !strings.Contains(events, `Pulling image "`+dataImage+`"`) {
		t.Errorf("no Pulling event for the volume's image (pullPolicy Always):\n%s", events)
	}

	uid := get(t, n, "reader", "{.metadata.uid}")
	target := filepath.Join(cluster.Dir, "agent", "kubelet", "pods", uid, "volumes", "kubernetes.io~image", "data")
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); !strings.Contains(string(mi), " "+target+" ") {
		t.Errorf("nothing mounted at %s on the host", target)
	}
	views := imageViews(t)
	if !strings.Contains(views, "/"+uid+"/data") {
		t.Errorf("no view snapshot of the pod's volume; image-volume snapshots: %q", views)
	}
	t.Logf("view snapshots: %s", views)

	// A volume whose image is not in the registry keeps the container waiting and
	// says why in its status and events.
	apply(t, n, `
apiVersion: v1
kind: Pod
metadata: {name: ghost}
spec:
  containers:
  - {name: c, image: `+toolbox+`, command: [sleep, "3600"], volumeMounts: [{name: data, mountPath: /volume}]}
  volumes:
  - {name: data, image: {reference: skiff.local/no-such-volume:1}}
`)
	waitFor(t, n, "ghost", "{.status.containerStatuses[0].state.waiting.reason}", 60*time.Second, func(r string) bool {
		return r == "ErrImagePull" || r == "ImagePullBackOff"
	})
	msg := waitFor(t, n, "ghost", "{.status.containerStatuses[0].state.waiting.message}", 30*time.Second, func(m string) bool {
		return strings.Contains(m, "skiff.local/no-such-volume:1") && strings.Contains(m, "not in the cluster's registry")
	})
	t.Logf("waiting message: %s", msg)
	describe := cluster.MustKubectl(t, "-n", n, "describe", "pod", "ghost")
	if !strings.Contains(describe, "not in the cluster's registry") || strings.Contains(describe, "no such host") {
		t.Errorf("describe does not say the volume's image is missing from the registry (waiting message %q):\n%s", msg, describe)
	}

	cluster.MustKubectl(t, "-n", n, "delete", "pod", "reader", "--wait=true")
	framework.Eventually(t, 30*time.Second, func() error {
		if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), uid) {
			return fmt.Errorf("a mount of the deleted pod is still there")
		}
		if views := imageViews(t); strings.Contains(views, uid) {
			return fmt.Errorf("the deleted pod's view snapshot is still there: %s", views)
		}
		return nil
	})
}

// ctr runs containerd's client against the server node's containerd, in the CRI
// plugin's namespace.
func ctr(t *testing.T, args ...string) string {
	t.Helper()
	sock := filepath.Join(cluster.Dir, "agent", "containerd", "containerd.sock")
	out, err := exec.Command("ctr", append([]string{"-a", sock, "-n", "k8s.io"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// imageVolumeAcrossRestart runs a pod with an image volume and leaves, beside it,
// what an agent that went down while tearing a pod down would leave: a view snapshot
// and its mount for a pod the node no longer has. The function it returns checks,
// once the agent is back, that the stale view is gone while the pod keeps its
// volume, also in a container restarted after the agent restarted.
func imageVolumeAcrossRestart(t *testing.T, n string) func() {
	t.Helper()
	_, err := exec.LookPath("ctr")
	framework.Require(t, err == nil, "ctr (containerd's client, installed with containerd)")
	importDataImage(t)
	apply(t, n, `
apiVersion: v1
kind: Pod
metadata: {name: withimage}
spec:
  containers:
  - {name: c, image: `+toolbox+`, command: [sh, -c, "sleep 3600 & wait"], volumeMounts: [{name: data, mountPath: /volume}]}
  volumes:
  - {name: data, image: {reference: `+dataImage+`, pullPolicy: IfNotPresent}}
`)
	running(t, n, "withimage")
	uid := get(t, n, "withimage", "{.metadata.uid}")
	var info struct{ Parent string }
	if err := json.Unmarshal([]byte(ctr(t, "snapshots", "info", "skiff/image-volume/e2e-main/"+uid+"/data")), &info); err != nil || info.Parent == "" {
		t.Fatalf("the pod's view snapshot: %+v %v", info, err)
	}
	const staleUID = "0000-stale-image-volume"
	key := "skiff/image-volume/e2e-main/" + staleUID + "/data"
	target := filepath.Join(cluster.Dir, "agent", "kubelet", "pods", staleUID, "volumes", "kubernetes.io~image", "data")
	ctr(t, "snapshots", "view", key, info.Parent)
	ctr(t, "snapshots", "label", key, "containerd.io/gc.root=e2e", "skiff.io/image-volume.node=e2e-main",
		"skiff.io/image-volume.pod-uid="+staleUID, "skiff.io/image-volume.target="+target)
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(t.TempDir(), target, "", syscall.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	return func() {
		framework.Eventually(t, 30*time.Second, func() error {
			if views := imageViews(t); strings.Contains(views, staleUID) {
				return fmt.Errorf("the stale view is still there: %s", views)
			}
			if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), target) {
				return fmt.Errorf("the stale view is still mounted at %s", target)
			}
			return nil
		})
		if views := imageViews(t); !strings.Contains(views, uid) {
			t.Errorf("the running pod's view went with the stale one: %s", views)
		}
		waitExec(t, 10*time.Second, n, "withimage", "", equals("from layer two\n"), "cat", "/volume/data/b.txt")
		// A container started by the restarted agent finds the volume too.
		_, _ = execOut(n, "withimage", "", "killall", "sleep")
		waitFor(t, n, "withimage", "{.status.containerStatuses[0].restartCount}", 60*time.Second, equals("1"))
		running(t, n, "withimage")
		waitExec(t, 30*time.Second, n, "withimage", "", equals("from layer two\n"), "cat", "/volume/data/b.txt")
	}
}
