package containerd

import (
	"strings"
	"testing"
)

func TestConfig(t *testing.T) {
	o := Options{Dir: "/d/containerd", SandboxImage: "skiff.local/pause:1", CNIBinDir: "/usr/lib/cni", CNIConfDir: "/d/cni/net.d",
		RegistryEndpoint: "https://10.0.0.1:6443", RegistryCAFile: "/d/pki/ca.crt", Mirrors: []string{"skiff.local", "*", "skiff.local"}}
	cfg := o.Config()
	for _, want := range []string{
		`root = "/d/containerd/root"`,
		`address = "/d/containerd/containerd.sock"`,
		`sandbox_image = "skiff.local/pause:1"`,
		`restrict_oom_score_adj = true`,
		`snapshotter = "overlayfs"`,
		`SystemdCgroup = false`,
		`Root = "/d/containerd/runc"`,
		`conf_dir = "/d/cni/net.d"`,
		`[plugins."io.containerd.grpc.v1.cri".registry.mirrors."*"]`,
		`[plugins."io.containerd.grpc.v1.cri".registry.mirrors."skiff.local"]`,
		`endpoint = ["https://10.0.0.1:6443"]`,
		`[plugins."io.containerd.grpc.v1.cri".registry.configs."10.0.0.1:6443".tls]`,
		`ca_file = "/d/pki/ca.crt"`,
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %s:\n%s", want, cfg)
		}
	}
	if strings.Count(cfg, `mirrors."skiff.local"`) != 1 {
		t.Error("duplicate mirror table (containerd refuses the config)")
	}
}
