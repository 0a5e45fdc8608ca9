package volume

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestMounts(t *testing.T) {
	base := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(base, "escape")); err != nil {
		t.Fatal(err)
	}
	p := &Pod{
		volumes: map[string]prepared{"data": {path: base}, "config": {path: "/cfg", readOnly: true}},
		errs:    map[string]error{"broken": errors.New(`configmap "absent" not found`)},
	}
	c := &corev1.Container{VolumeMounts: []corev1.VolumeMount{
		{Name: "data", MountPath: "/data"},
		{Name: "data", MountPath: "/logs", SubPathExpr: "logs/$(POD)", ReadOnly: true},
		{Name: "config", MountPath: "/etc/config"},
	}}
	got, err := p.Mounts(c, func(s string) string { return strings.ReplaceAll(s, "$(POD)", "web") })
	if err != nil {
		t.Fatal(err)
	}
	type m struct {
		host, ctr string
		ro        bool
	}
	want := []m{{base, "/data", false}, {filepath.Join(base, "logs", "web"), "/logs", true}, {"/cfg", "/etc/config", true}}
	for i, w := range want {
		if g := got[i]; g.HostPath != w.host || g.ContainerPath != w.ctr || g.Readonly != w.ro {
			t.Errorf("mount %d = %s:%s ro=%v, want %+v", i, g.HostPath, g.ContainerPath, g.Readonly, w)
		}
	}
	if info, err := os.Stat(filepath.Join(base, "logs", "web")); err != nil || !info.IsDir() {
		t.Errorf("the subPath directory was not created: %v", err)
	}
	bad := []struct {
		name string
		vm   corev1.VolumeMount
		want string
	}{
		{"failed volume", corev1.VolumeMount{Name: "broken", MountPath: "/x"}, `configmap "absent" not found`},
		{"undefined volume", corev1.VolumeMount{Name: "nope", MountPath: "/x"}, "not defined"},
		{"dot-dot", corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "../etc"}, "without '..'"},
		{"symlink out", corev1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "escape"}, "outside the volume"},
	}
	for _, b := range bad {
		_, err := p.Mounts(&corev1.Container{VolumeMounts: []corev1.VolumeMount{b.vm}}, nil)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: err = %v, want %q", b.name, err, b.want)
		}
	}
}

func TestRefreshAt(t *testing.T) {
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	got := refreshAt(issued, issued.Add(3607*time.Second))
	if want := issued.Add(2885600 * time.Millisecond); !got.Equal(want) {
		t.Errorf("refreshAt = %s, want %s (80%% of the lifetime)", got, want)
	}
}
