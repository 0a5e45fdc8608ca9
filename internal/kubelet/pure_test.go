package kubelet

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

func TestBackoff(t *testing.T) {
	b := newBackoff(10*time.Second, 5*time.Minute, 10*time.Minute)
	t0 := time.Unix(1000, 0)
	if w := b.Wait("k", t0, t0); w != 0 {
		t.Fatalf("first crash waits %v, want an immediate restart", w)
	}
	var delays []time.Duration
	now := t0
	for i := 0; i < 7; i++ {
		b.Retried("k", now)
		delays = append(delays, b.Delay("k"))
		finished := now.Add(time.Second)
		if w := b.Wait("k", finished, finished); w != b.Delay("k") {
			t.Fatalf("crash %d: waits %v right after finishing, want %v", i, w, b.Delay("k"))
		}
		now = finished.Add(b.Delay("k"))
		if w := b.Wait("k", finished, now); w != 0 {
			t.Fatalf("crash %d: still waiting %v once the delay passed", i, w)
		}
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 5 * time.Minute, 5 * time.Minute}
	if diff := cmp.Diff(want, delays); diff != "" {
		t.Errorf("delays (-want +got):\n%s", diff)
	}
	// A container that ran for more than 10 minutes starts over.
	later := now.Add(11 * time.Minute)
	if w := b.Wait("k", later, later); w != 0 {
		t.Errorf("after 11 min running: waits %v, want 0", w)
	}
	b.Retried("k", later)
	if d := b.Delay("k"); d != 10*time.Second {
		t.Errorf("after reset: delay %v, want 10s", d)
	}
}

func res(cpuReq, cpuLim, memReq, memLim string) corev1.ResourceRequirements {
	r := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	set := func(l corev1.ResourceList, n corev1.ResourceName, v string) {
		if v != "" {
			l[n] = resource.MustParse(v)
		}
	}
	set(r.Requests, corev1.ResourceCPU, cpuReq)
	set(r.Limits, corev1.ResourceCPU, cpuLim)
	set(r.Requests, corev1.ResourceMemory, memReq)
	set(r.Limits, corev1.ResourceMemory, memLim)
	return r
}

func podWith(rs ...corev1.ResourceRequirements) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"}}
	for i, r := range rs {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: string(rune('a' + i)), Resources: r})
	}
	return p
}

func TestQoSAndCgroups(t *testing.T) {
	tests := []struct {
		name   string
		pod    *corev1.Pod
		qos    corev1.PodQOSClass
		parent string
		limits podLimits
	}{
		{"best effort", podWith(res("", "", "", "")), corev1.PodQOSBestEffort, "/skiff-n/besteffort/podu1", podLimits{CPUShares: 2}},
		{"guaranteed: requests equal limits (the API server defaults them so)", podWith(res("500m", "500m", "128Mi", "128Mi")), corev1.PodQOSGuaranteed, "/skiff-n/podu1",
			podLimits{CPUShares: 512, CPUQuota: 50000, MemoryLimit: 128 << 20}},
		{"burstable: requests below limits", podWith(res("100m", "1", "64Mi", "128Mi")), corev1.PodQOSBurstable, "/skiff-n/burstable/podu1",
			podLimits{CPUShares: 102, CPUQuota: 100000, MemoryLimit: 128 << 20}},
		{"burstable: one container unlimited", podWith(res("250m", "250m", "64Mi", "64Mi"), res("", "", "", "")), corev1.PodQOSBurstable,
			"/skiff-n/burstable/podu1", podLimits{CPUShares: 256}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if q := qosClass(tt.pod); q != tt.qos {
				t.Errorf("qos %s, want %s", q, tt.qos)
			}
			if p := podCgroupParent("/skiff-n", tt.pod); p != tt.parent {
				t.Errorf("parent %s, want %s", p, tt.parent)
			}
			if diff := cmp.Diff(tt.limits, podCgroupLimits(tt.pod)); diff != "" {
				t.Errorf("pod limits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContainerResources(t *testing.T) {
	pod := podWith(res("250m", "500m", "64Mi", "128Mi"))
	got := containerResources(pod, &pod.Spec.Containers[0], 1<<30)
	want := &runtimeapi.LinuxContainerResources{CpuShares: 256, CpuPeriod: 100000, CpuQuota: 50000,
		MemoryLimitInBytes: 128 << 20, OomScoreAdj: 1000 - 1000*(64<<20)/(1<<30)}
	if got.CpuShares != want.CpuShares || got.CpuQuota != want.CpuQuota || got.CpuPeriod != want.CpuPeriod ||
		got.MemoryLimitInBytes != want.MemoryLimitInBytes || got.OomScoreAdj != want.OomScoreAdj {
		t.Errorf("got %v, want %v", got, want)
	}
}

type fakeObjects struct {
	cms     map[string]*corev1.ConfigMap
	secrets map[string]*corev1.Secret
}

func (f fakeObjects) ConfigMap(_ context.Context, _, name string) (*corev1.ConfigMap, error) {
	if cm, ok := f.cms[name]; ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func (f fakeObjects) Secret(_ context.Context, _, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

func TestResolveEnv(t *testing.T) {
	src := fakeObjects{
		cms:     map[string]*corev1.ConfigMap{"cfg": {Data: map[string]string{"MODE": "fast", "LEVEL": "3"}}},
		secrets: map[string]*corev1.Secret{"sec": {Data: map[string][]byte{"PASSWORD": []byte("hunter2")}}},
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "prod", Labels: map[string]string{"app": "web"}},
		Spec:   corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{PodIP: "10.42.0.7"}}
	c := &corev1.Container{
		Name:      "app",
		Resources: res("250m", "", "", "256Mi"),
		EnvFrom:   []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		Env: []corev1.EnvVar{
			{Name: "CFG_MODE", Value: "slow"}, // env wins over envFrom
			{Name: "GREETING", Value: "mode=$(CFG_MODE) literal=$$(CFG_MODE) unknown=$(NOPE)"},
			{Name: "DB_URL", Value: "postgres://$(DB_SERVICE_HOST)/app"}, // service variables expand too
			{Name: "PASS", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "PASSWORD"}}},
			{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
			{Name: "CPU_LIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
			{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Key: "x", Optional: ptr.To(true)}}},
		},
	}
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}
	got, err := resolveEnv(context.Background(), pod, c, src, alloc, []envVar{{"DB_SERVICE_HOST", "10.43.0.7"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []envVar{{"CFG_LEVEL", "3"}, {"CFG_MODE", "slow"}, {"GREETING", "mode=slow literal=$(CFG_MODE) unknown=$(NOPE)"},
		{"DB_URL", "postgres://10.43.0.7/app"},
		{"PASS", "hunter2"}, {"POD", "web"}, {"APP", "web"}, {"IP", "10.42.0.7"}, {"MEM_MI", "256"}, {"CPU_LIMIT", "4"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
}

func TestResolveEnvMissing(t *testing.T) {
	src := fakeObjects{cms: map[string]*corev1.ConfigMap{"cfg": {Data: map[string]string{}}}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "prod"}}
	ref := func(name, key string) corev1.EnvVar {
		return corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}}
	}
	tests := []struct {
		env  corev1.EnvVar
		want string
	}{
		{ref("cfg", "MODE"), "env X: couldn't find key MODE in ConfigMap prod/cfg"},
		{ref("nope", "MODE"), `env X: configmap "nope" not found`},
	}
	for _, tt := range tests {
		_, err := resolveEnv(context.Background(), pod, &corev1.Container{Env: []corev1.EnvVar{tt.env}}, src, nil, nil)
		var ce *configError
		if err == nil || err.Error() != tt.want || !asConfigError(err, &ce) {
			t.Errorf("err %v, want config error %q", err, tt.want)
		}
	}
}

func asConfigError(err error, target **configError) bool {
	for err != nil {
		if ce, ok := err.(*configError); ok {
			*target = ce
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
