package resources

import (
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// mustYAML decodes a manifest into obj, as the API server would decode a request body.
func mustYAML[T any](t *testing.T, doc string) *T {
	t.Helper()
	obj := new(T)
	if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
		t.Fatalf("bad fixture: %v\n%s", err, doc)
	}
	return obj
}

// errKeys reduces errors to "path: Type" strings, sorted, for comparison.
func errKeys(errs field.ErrorList) []string {
	out := []string{}
	for _, e := range errs {
		out = append(out, e.Field+": "+string(e.Type))
	}
	sort.Strings(out)
	return out
}

// create runs a strategy as the API server does on create.
func create(s Strategy, obj runtime.Object) field.ErrorList {
	s.Default(obj)
	s.PrepareForCreate(obj)
	return s.Validate(obj, nil)
}

func TestPodDefaults(t *testing.T) {
	pod := mustYAML[corev1.Pod](t, `
metadata: {name: nginx, namespace: default, uid: u1}
spec:
  containers:
  - name: nginx
    image: nginx
`)
	// What `kubectl get pod nginx -o yaml` shows on a real cluster (minus the
	// projected service-account token volume, see the report).
	want := mustYAML[corev1.Pod](t, `
metadata: {name: nginx, namespace: default, uid: u1}
spec:
  containers:
  - image: nginx
    imagePullPolicy: Always
    name: nginx
    resources: {}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  preemptionPolicy: PreemptLowerPriority
  priority: 0
  restartPolicy: Always
  schedulerName: default-scheduler
  securityContext: {}
  serviceAccount: default
  serviceAccountName: default
  terminationGracePeriodSeconds: 30
  tolerations:
  - effect: NoExecute
    key: node.kubernetes.io/not-ready
    operator: Exists
    tolerationSeconds: 300
  - effect: NoExecute
    key: node.kubernetes.io/unreachable
    operator: Exists
    tolerationSeconds: 300
status:
  phase: Pending
  qosClass: BestEffort
`)
	if errs := create(podStrategy{}, pod); len(errs) > 0 {
		t.Fatalf("valid pod rejected: %v", errs)
	}
	if d := cmp.Diff(want, pod); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}
}

func TestPodContainerDefaults(t *testing.T) {
	pod := mustYAML[corev1.Pod](t, `
metadata: {name: p, namespace: default}
spec:
  hostNetwork: true
  tolerations: [{operator: Exists}]
  volumes:
  - name: scratch
  - {name: cfg, configMap: {name: cfg}}
  - {name: host, hostPath: {path: /var/log}}
  - {name: data, image: {reference: skiff.local/data:1}}
  - {name: latest, image: {reference: skiff.local/data}}
  - {name: pinned, image: {reference: skiff.local/data:latest, pullPolicy: Never}}
  containers:
  - name: app
    image: registry.local:5000/app@sha256:0123
    ports: [{containerPort: 8080}]
    env: [{name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]
    resources: {limits: {cpu: 500m, memory: 128Mi}}
    livenessProbe: {httpGet: {port: 8080}}
  - name: tagged
    image: busybox:1.36
`)
	// No resizePolicy is defaulted: a container without one resizes in place
	// (the kubelet reads a missing policy as NotRequired), and Kubernetes leaves it
	// empty too, which clients compare against.
	podStrategy{}.Default(pod)
	podStrategy{}.PrepareForCreate(pod)
	want := mustYAML[corev1.Pod](t, `
metadata: {name: p, namespace: default}
spec:
  volumes:
  - {name: scratch, emptyDir: {}}
  - {name: cfg, configMap: {name: cfg, defaultMode: 420}}
  - {name: host, hostPath: {path: /var/log, type: ""}}
  - {name: data, image: {reference: skiff.local/data:1, pullPolicy: IfNotPresent}}
  - {name: latest, image: {reference: skiff.local/data, pullPolicy: Always}}
  - {name: pinned, image: {reference: skiff.local/data:latest, pullPolicy: Never}}
  containers:
  - name: app
    image: registry.local:5000/app@sha256:0123
    imagePullPolicy: IfNotPresent
    ports: [{containerPort: 8080, hostPort: 8080, protocol: TCP}]
    env: [{name: NODE, valueFrom: {fieldRef: {apiVersion: v1, fieldPath: spec.nodeName}}}]
    resources: {limits: {cpu: 500m, memory: 128Mi}, requests: {cpu: 500m, memory: 128Mi}}
    livenessProbe: {httpGet: {port: 8080, path: /, scheme: HTTP}, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  - name: tagged
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    resources: {}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  hostNetwork: true
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  preemptionPolicy: PreemptLowerPriority
  priority: 0
  restartPolicy: Always
  schedulerName: default-scheduler
  securityContext: {}
  serviceAccount: default
  serviceAccountName: default
  terminationGracePeriodSeconds: 30
  tolerations: [{operator: Exists}]
status: {phase: Pending, qosClass: Burstable} # the second container sets no limits
`)
	if d := cmp.Diff(want, pod); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}
}

func TestPodImageIsLatest(t *testing.T) {
	for image, want := range map[string]bool{
		"nginx": true, "nginx:latest": true, "nginx:1.25": false, "localhost:5000/app": true,
		"localhost:5000/app:v1": false, "app@sha256:abc": false, "app:latest@sha256:abc": true,
	} {
		if got := podImageIsLatest(image); got != want {
			t.Errorf("podImageIsLatest(%q) = %v, want %v", image, got, want)
		}
	}
}

func TestQOSClass(t *testing.T) {
	tests := []struct {
		name       string
		containers string
		want       corev1.PodQOSClass
	}{
		{"nothing set", `[{name: a, image: x}]`, corev1.PodQOSBestEffort},
		{"limits only are copied to requests", `[{name: a, image: x, resources: {limits: {cpu: 1, memory: 1Gi}}}]`, corev1.PodQOSGuaranteed},
		{"requests equal limits", `[{name: a, image: x, resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: "1", memory: 1Gi}}}]`, corev1.PodQOSGuaranteed},
		{"requests below limits", `[{name: a, image: x, resources: {requests: {cpu: 500m}, limits: {cpu: 1, memory: 1Gi}}}]`, corev1.PodQOSBurstable},
		{"cpu limit only", `[{name: a, image: x, resources: {limits: {cpu: 1}}}]`, corev1.PodQOSBurstable},
		{"one container without limits", `[{name: a, image: x, resources: {limits: {cpu: 1, memory: 1Gi}}}, {name: b, image: x}]`, corev1.PodQOSBurstable},
		{"only other resources", `[{name: a, image: x, resources: {requests: {ephemeral-storage: 1Gi}}}]`, corev1.PodQOSBestEffort},
		{"zero requests", `[{name: a, image: x, resources: {requests: {cpu: "0"}}}]`, corev1.PodQOSBestEffort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := mustYAML[corev1.Pod](t, "metadata: {name: p, namespace: d}\nspec: {containers: "+tt.containers+"}")
			podStrategy{}.Default(pod)
			if got := QOSClass(pod); got != tt.want {
				t.Errorf("QOSClass = %s, want %s", got, tt.want)
			}
		})
	}
	t.Run("init containers count", func(t *testing.T) {
		pod := mustYAML[corev1.Pod](t, `spec: {initContainers: [{name: i, image: x, resources: {requests: {memory: 1Mi}}}], containers: [{name: a, image: x}]}`)
		if got := QOSClass(pod); got != corev1.PodQOSBurstable {
			t.Errorf("QOSClass = %s, want Burstable", got)
		}
	})
	t.Run("pod-level resources win", func(t *testing.T) {
		pod := mustYAML[corev1.Pod](t, `spec: {resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}, containers: [{name: a, image: x}]}`)
		if got := QOSClass(pod); got != corev1.PodQOSGuaranteed {
			t.Errorf("QOSClass = %s, want Guaranteed", got)
		}
	})
}

func TestPodValidation(t *testing.T) {
	const base = `
metadata: {name: web, namespace: default}
spec:
  volumes: [{name: data}]
  containers:
  - name: app
    image: nginx:1.25
    ports: [{containerPort: 80, name: http}]
    volumeMounts: [{name: data, mountPath: /data}]
`
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"valid", func(*corev1.Pod) {}, []string{}},
		{"bad name", func(p *corev1.Pod) { p.Name = "Bad_Name" }, []string{"metadata.name: FieldValueInvalid"}},
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil }, []string{"spec.containers: FieldValueRequired"}},
		{"no image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, []string{"spec.containers[0].image: FieldValueRequired"}},
		{"container name not a DNS label", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "App_1" }, []string{"spec.containers[0].name: FieldValueInvalid"}},
		{"duplicate across init and app", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "app", Image: "busybox"}}
		}, []string{"spec.containers[0].name: FieldValueDuplicate"}},
		{"port out of range", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 }, []string{"spec.containers[0].ports[0].containerPort: FieldValueInvalid"}},
		{"bad protocol", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "HTTP" }, []string{"spec.containers[0].ports[0].protocol: FieldValueNotSupported"}},
		{"request above limit", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = *mustYAML[corev1.ResourceRequirements](t, `{requests: {cpu: "2"}, limits: {cpu: "1"}}`)
		}, []string{"spec.containers[0].resources.requests[cpu]: FieldValueInvalid"}},
		{"restart policy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, []string{"spec.restartPolicy: FieldValueNotSupported"}},
		{"dns policy", func(p *corev1.Pod) { p.Spec.DNSPolicy = "Google" }, []string{"spec.dnsPolicy: FieldValueNotSupported"}},
		{"duplicate volume", func(p *corev1.Pod) { p.Spec.Volumes = append(p.Spec.Volumes, p.Spec.Volumes[0]) }, []string{"spec.volumes[1].name: FieldValueDuplicate"}},
		{"mount of missing volume", func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].Name = "logs" }, []string{"spec.containers[0].volumeMounts[0].name: FieldValueNotFound"}},
		{"two volume sources", func(p *corev1.Pod) {
			p.Spec.Volumes[0].EmptyDir = &corev1.EmptyDirVolumeSource{}
			p.Spec.Volumes[0].HostPath = &corev1.HostPathVolumeSource{Path: "/tmp"}
		}, []string{"spec.volumes[0].emptyDir: FieldValueForbidden"}},
		{"env name", func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A=B"}} }, []string{"spec.containers[0].env[0].name: FieldValueInvalid"}},
		{"probe without handler", func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{} }, []string{"spec.containers[0].readinessProbe: FieldValueRequired"}},
		{"liveness success threshold", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}}, SuccessThreshold: 2}
		}, []string{"spec.containers[0].livenessProbe.successThreshold: FieldValueInvalid"}},
		{"probe on init container", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", StartupProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}}
		}, []string{"spec.initContainers[0].startupProbe: FieldValueForbidden"}},
		{"toleration", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: "Exists", Value: "v"}, {Operator: "Equal"}}
		}, []string{"spec.tolerations[0].operator: FieldValueInvalid", "spec.tolerations[1].operator: FieldValueInvalid"}},
		{"image whitespace", func(p *corev1.Pod) { p.Spec.Containers[0].Image = " nginx" }, []string{"spec.containers[0].image: FieldValueInvalid"}},
		{"sysctls", func(p *corev1.Pod) {
			// The conformance suite's set: only the malformed names are errors;
			// unsafe or unknown ones are for the kubelet to refuse.
			p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
				{Name: "foo-", Value: "bar"}, {Name: "kernel.shmmax", Value: "1"}, {Name: "safe-and-unsafe", Value: "1"},
				{Name: "bar..", Value: "42"}, {Name: "kernel/shmmax", Value: "2"}}}
		}, []string{"spec.securityContext.sysctls[0].name: FieldValueInvalid", "spec.securityContext.sysctls[3].name: FieldValueInvalid",
			"spec.securityContext.sysctls[4].name: FieldValueDuplicate"}},
		{"net sysctl with host network", func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports[0].HostPort = 80
			p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "net.ipv4.ip_local_port_range", Value: "1024 65000"}, {Name: "kernel.shm_rmid_forced", Value: "1"}}}
		}, []string{"spec.securityContext.sysctls[0].name: FieldValueInvalid"}},
		{"configMap without name", func(p *corev1.Pod) {
			p.Spec.Volumes[0].VolumeSource = corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{DefaultMode: podPtr(int32(01000))}}
		}, []string{"spec.volumes[0].configMap.defaultMode: FieldValueInvalid", "spec.volumes[0].configMap.name: FieldValueRequired"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := mustYAML[corev1.Pod](t, base)
			tt.mutate(pod)
			got := errKeys(create(podStrategy{}, pod))
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("errors (-want +got):\n%s\nall: %v", d, create(podStrategy{}, pod))
			}
		})
	}
}

// TestPodErrorText pins whole messages users see from kubectl.
func TestPodErrorText(t *testing.T) {
	pod := mustYAML[corev1.Pod](t, `
metadata: {name: Bad_Name, namespace: default}
spec: {containers: [{name: a, image: x, resources: {requests: {memory: 2Gi}, limits: {memory: 1Gi}}}]}`)
	var got []string
	for _, e := range create(podStrategy{}, pod) {
		got = append(got, e.Error())
	}
	want := []string{
		`metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
		`spec.containers[0].resources.requests[memory]: Invalid value: "2Gi": must be less than or equal to memory limit of 1Gi`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("messages (-want +got):\n%s", d)
	}
}

func TestPodTemplateKind(t *testing.T) {
	pt := mustYAML[corev1.PodTemplate](t, `
metadata: {name: t, namespace: default}
template:
  metadata: {labels: {app: x}}
  spec: {containers: [{name: a, image: ""}]}`)
	got := errKeys(create(podTemplateStrategy{}, pt))
	if d := cmp.Diff([]string{"template.spec.containers[0].image: FieldValueRequired"}, got); d != "" {
		t.Errorf("errors (-want +got):\n%s", d)
	}
	if pt.Template.Spec.EnableServiceLinks != nil || pt.Template.Spec.Tolerations != nil {
		t.Errorf("templates must not get pod-only defaults: %+v", pt.Template.Spec)
	}
	if !strings.EqualFold(string(pt.Template.Spec.RestartPolicy), "Always") {
		t.Errorf("template not defaulted: %+v", pt.Template.Spec)
	}
}
