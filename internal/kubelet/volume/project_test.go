package volume

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func TestDir(t *testing.T) {
	got := Dir("/var/lib/skiff/kubelet", "1234", PluginConfigMap, "config")
	if want := "/var/lib/skiff/kubelet/pods/1234/volumes/kubernetes.io~configmap/config"; got != want {
		t.Errorf("Dir = %s, want %s", got, want)
	}
}

func TestConfigMapFiles(t *testing.T) {
	cm := &corev1.ConfigMap{Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"bin": {0, 1}}}
	tests := []struct {
		name     string
		cm       *corev1.ConfigMap
		items    []corev1.KeyToPath
		def      *int32
		optional bool
		want     map[string]File
		wantErr  string
	}{
		{name: "every key, default mode", cm: cm, want: map[string]File{
			"a": {[]byte("1"), 0o644}, "b": {[]byte("2"), 0o644}, "bin": {[]byte{0, 1}, 0o644}}},
		{name: "defaultMode", cm: cm, def: ptr(int32(0o400)), items: []corev1.KeyToPath{{Key: "a", Path: "a"}},
			want: map[string]File{"a": {[]byte("1"), 0o400}}},
		{name: "items to paths with their own mode", cm: cm, def: ptr(int32(0o600)),
			items: []corev1.KeyToPath{{Key: "a", Path: "dir/one"}, {Key: "b", Path: "two", Mode: ptr(int32(0o755))}},
			want:  map[string]File{"dir/one": {[]byte("1"), 0o600}, "two": {[]byte("2"), 0o755}}},
		{name: "missing key", cm: cm, items: []corev1.KeyToPath{{Key: "zz", Path: "zz"}}, wantErr: `configmap ns/cfg has no key "zz"`},
		{name: "missing key, optional", cm: cm, optional: true, items: []corev1.KeyToPath{{Key: "zz", Path: "zz"}}, want: map[string]File{}},
		{name: "missing object", wantErr: `configmap "cfg" not found`},
		{name: "missing object, optional", optional: true, want: map[string]File{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigMapFiles("ns", "cfg", tt.cm, tt.items, tt.def, tt.optional)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("files (-want +got):\n%s", d)
			}
		})
	}
}

func TestSecretFilesMissingIsNotFound(t *testing.T) {
	_, err := SecretFiles("ns", "creds", nil, nil, nil, false)
	var nf *NotFoundError
	if !errors.As(err, &nf) || nf.Kind != "secret" || nf.Name != "creds" {
		t.Fatalf("err = %#v, want a NotFoundError for secret creds", err)
	}
	got, err := SecretFiles("ns", "creds", &corev1.Secret{Data: map[string][]byte{"k": []byte("v")}}, nil, ptr(int32(0o400)), false)
	if err != nil || string(got["k"].Data) != "v" || got["k"].Mode != 0o400 {
		t.Fatalf("files = %v, %v", got, err)
	}
}

func TestDownwardFiles(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "u1",
		Labels: map[string]string{"tier": "front", "app": "web"}, Annotations: map[string]string{"note": `say "hi"`}}}
	items := []corev1.DownwardAPIVolumeFile{
		{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
		{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}, Mode: ptr(int32(0o400))},
		{Path: "uid", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.uid"}},
		{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
		{Path: "annotations", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations"}},
		{Path: "tier", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['tier']"}},
		{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "c", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
	}
	res := func(_ *corev1.Pod, c string, ref *corev1.ResourceFieldSelector) (string, error) {
		return c + ":" + ref.Resource, nil
	}
	got, err := DownwardFiles(pod, items, nil, res)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name": "web", "ns": "shop", "uid": "u1", "labels": "app=\"web\"\ntier=\"front\"",
		"annotations": `note="say \"hi\""`, "tier": "front", "mem": "c:limits.memory"}
	for path, v := range want {
		if string(got[path].Data) != v {
			t.Errorf("%s = %q, want %q", path, got[path].Data, v)
		}
	}
	if got["ns"].Mode != 0o400 || got["name"].Mode != fs.FileMode(0o644) {
		t.Errorf("modes: ns %o, name %o", got["ns"].Mode, got["name"].Mode)
	}
	if _, err := DownwardFiles(pod, []corev1.DownwardAPIVolumeFile{{Path: "x", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.phase"}}}, nil, nil); err == nil {
		t.Error("an unsupported field path was accepted")
	}
}
