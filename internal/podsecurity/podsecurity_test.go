package podsecurity

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/utils/ptr"
)

type fakeSource map[string]*corev1.Namespace

func (f fakeSource) GetNamespace(_ context.Context, name string) (*corev1.Namespace, error) {
	if ns, ok := f[name]; ok {
		return ns, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("namespaces"), name)
}

func (fakeSource) ListPods(context.Context, string) ([]*corev1.Pod, error) { return nil, nil }

const config = `apiVersion: pod-security.admission.config.k8s.io/v1
kind: PodSecurityConfiguration
defaults:
  enforce: baseline
exemptions:
  namespaces: [ops]
  usernames: [admin]
`

func TestConfigDefaultsAndExemptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "psa.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	src := fakeSource{"apps": {ObjectMeta: metav1.ObjectMeta{Name: "apps"}}, "ops": {ObjectMeta: metav1.ObjectMeta{Name: "ops"}}}
	p, err := New(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	priv := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Name: "c", Image: "x", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}}}}}
	tests := []struct {
		ns, user string
		refused  bool
	}{
		{"apps", "dev", true},    // the configured default, baseline, applies to unlabelled namespaces
		{"ops", "dev", false},    // exempt namespace
		{"apps", "admin", false}, // exempt user
	}
	for _, tt := range tests {
		at := admission.NewAttributesRecord(priv, nil, corev1.SchemeGroupVersion.WithKind("Pod"), tt.ns, "p",
			corev1.SchemeGroupVersion.WithResource("pods"), "", admission.Create, nil, false, &user.DefaultInfo{Name: tt.user})
		err := p.Validate(context.Background(), at, nil)
		if refused := err != nil; refused != tt.refused {
			t.Errorf("%s as %s: err %v, want refused=%v", tt.ns, tt.user, err, tt.refused)
		}
		if err != nil && (!apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `violates PodSecurity "baseline:latest"`)) {
			t.Errorf("%s as %s: %v, want a Forbidden naming baseline", tt.ns, tt.user, err)
		}
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing configuration file was accepted")
	}
}
