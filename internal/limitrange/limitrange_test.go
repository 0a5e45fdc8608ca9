package limitrange

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
)

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func container(name string, requests, limits corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}
}

func attrs(obj runtime.Object, resource string) admission.Attributes {
	return admission.NewAttributesRecord(obj, nil, corev1.SchemeGroupVersion.WithKind(""), "ns", "x",
		corev1.SchemeGroupVersion.WithResource(resource), "", admission.Create, nil, false, nil)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		item corev1.LimitRangeItem
		obj  runtime.Object
		want string // "" when admitted
	}{
		{"container under max", corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: rl("cpu", "1")},
			pod(container("a", nil, rl("cpu", "500m"))), ""},
		{"container over max", corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: rl("cpu", "1")},
			pod(container("a", nil, rl("cpu", "2"))), "maximum cpu usage per Container is 1, but limit is 2"},
		{"container without a limit", corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: rl("memory", "1Gi")},
			pod(container("a", nil, nil)), "maximum memory usage per Container is 1Gi.  No limit is specified"},
		{"container under min", corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Min: rl("cpu", "100m")},
			pod(container("a", rl("cpu", "50m"), nil)), "minimum cpu usage per Container is 100m, but request is 50m"},
		{"ratio", corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, MaxLimitRequestRatio: rl("cpu", "2")},
			pod(container("a", rl("cpu", "100m"), rl("cpu", "1"))), "cpu max limit to request ratio per Container is 2, but provided ratio is 10.000000"},
		{"pod total over max", corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: rl("cpu", "1")},
			pod(container("a", nil, rl("cpu", "600m")), container("b", nil, rl("cpu", "600m"))), "maximum cpu usage per Pod is 1, but limit is 1200m"},
		{"claim over max", corev1.LimitRangeItem{Type: corev1.LimitTypePersistentVolumeClaim, Max: rl("storage", "1Gi")},
			claim("2Gi"), "maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 2Gi"},
		{"claim under min", corev1.LimitRangeItem{Type: corev1.LimitTypePersistentVolumeClaim, Min: rl("storage", "1Gi")},
			claim("500Mi"), "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"},
	}
	for _, tt := range tests {
		p := New(func(string) ([]*corev1.LimitRange, error) {
			return []*corev1.LimitRange{{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{tt.item}}}}, nil
		})
		res := "pods"
		if _, ok := tt.obj.(*corev1.PersistentVolumeClaim); ok {
			res = "persistentvolumeclaims"
		}
		err := p.Validate(context.Background(), attrs(tt.obj, res), nil)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestAdmitFillsDefaultsOnly(t *testing.T) {
	p := New(func(string) ([]*corev1.LimitRange, error) {
		return []*corev1.LimitRange{{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
			Default: rl("cpu", "500m", "memory", "128Mi"), DefaultRequest: rl("cpu", "100m")}}}}}, nil
	})
	po := pod(container("set", rl("cpu", "200m"), rl("cpu", "300m")), container("bare", nil, nil))
	po.Spec.InitContainers = []corev1.Container{container("init", nil, nil)}
	if err := p.Admit(context.Background(), attrs(po, "pods"), nil); err != nil {
		t.Fatal(err)
	}
	set, bare, init := po.Spec.Containers[0].Resources, po.Spec.Containers[1].Resources, po.Spec.InitContainers[0].Resources
	if set.Requests.Cpu().String() != "200m" || set.Limits.Cpu().String() != "300m" || set.Limits.Memory().String() != "128Mi" {
		t.Errorf("container with its own values: %v", set)
	}
	if bare.Requests.Cpu().String() != "100m" || bare.Limits.Cpu().String() != "500m" || init.Limits.Cpu().String() != "500m" {
		t.Errorf("bare container %v, init container %v", bare, init)
	}
	if !strings.Contains(po.Annotations[annotation], "cpu request for container bare") {
		t.Errorf("annotation %q", po.Annotations[annotation])
	}
}

func pod(cs ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{Spec: corev1.PodSpec{Containers: cs}}
}

func claim(size string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{
		Resources: corev1.VolumeResourceRequirements{Requests: rl("storage", size)}}}
}

// A resize in place through pods/resize is held to the ranges as a new pod is; other
// pod updates and subresources are not.
func TestValidateResize(t *testing.T) {
	p := New(func(string) ([]*corev1.LimitRange, error) {
		return []*corev1.LimitRange{{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
			{Type: corev1.LimitTypeContainer, Max: rl("cpu", "1")}}}}}, nil
	})
	old := pod(container("a", rl("cpu", "500m"), rl("cpu", "500m")))
	grown := pod(container("a", rl("cpu", "2"), rl("cpu", "2")))
	update := func(sub string) admission.Attributes {
		return admission.NewAttributesRecord(grown, old, corev1.SchemeGroupVersion.WithKind("Pod"), "ns", "x",
			corev1.SchemeGroupVersion.WithResource("pods"), sub, admission.Update, nil, false, nil)
	}
	err := p.Validate(context.Background(), update("resize"), nil)
	if want := "maximum cpu usage per Container is 1, but limit is 2"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("resize over max: got %v, want %q", err, want)
	}
	for _, sub := range []string{"", "status"} {
		if err := p.Validate(context.Background(), update(sub), nil); err != nil {
			t.Errorf("update of subresource %q: %v", sub, err)
		}
	}
}
