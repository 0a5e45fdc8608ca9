package printers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func ptr[T any](v T) *T { return &v }

// meta is the metadata of an object named name, created ten minutes ago.
func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(10 * time.Minute)}
}

func deployment() *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: meta("web"),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: containers("app", "log")}},
		},
		Status: appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2},
	}
}

// rowOf prints obj with the printer for gk, failing the test on error.
func rowOf(t *testing.T, gk schema.GroupKind, obj runtime.Object) []interface{} {
	t.Helper()
	row, err := For(gk).Row(obj, now)
	if err != nil {
		t.Fatal(err)
	}
	return row
}

func TestDeployment(t *testing.T) {
	gk := schema.GroupKind{Group: "apps", Kind: "Deployment"}
	got := rowOf(t, gk, deployment())
	want := []interface{}{"web", "2/3", int64(3), int64(2), "10m",
		"app,log", "registry.local/app:1,registry.local/log:1", "app=web"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}

	var names []string
	for _, c := range For(gk).Columns {
		if c.Priority == 0 {
			names = append(names, c.Name)
		}
	}
	if diff := cmp.Diff([]string{"Name", "Ready", "Up-to-date", "Available", "Age"}, names); diff != "" {
		t.Errorf("columns of plain kubectl get (-want +got):\n%s", diff)
	}
}

func TestService(t *testing.T) {
	svc := func(typ corev1.ServiceType, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
		s := &corev1.Service{ObjectMeta: meta("web"), Spec: corev1.ServiceSpec{
			Type: typ, ClusterIP: clusterIP, Ports: ports, Selector: map[string]string{"app": "web"}}}
		if clusterIP != "" {
			s.Spec.ClusterIPs = []string{clusterIP}
		}
		return s
	}
	http := corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}
	withNodePort := func(p corev1.ServicePort, n int32) corev1.ServicePort { p.NodePort = n; return p }

	tests := []struct {
		name string
		svc  *corev1.Service
		// want is TYPE, CLUSTER-IP, EXTERNAL-IP, PORT(S).
		want []interface{}
	}{
		{
			name: "cluster IP",
			svc: svc(corev1.ServiceTypeClusterIP, "10.96.0.10",
				corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
				corev1.ServicePort{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP}),
			want: []interface{}{"ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP"},
		},
		{
			name: "cluster IP with external IPs",
			svc: func() *corev1.Service {
				s := svc(corev1.ServiceTypeClusterIP, "10.96.0.11", http)
				s.Spec.ExternalIPs = []string{"192.0.2.1", "192.0.2.2"}
				return s
			}(),
			want: []interface{}{"ClusterIP", "10.96.0.11", "192.0.2.1,192.0.2.2", "80/TCP"},
		},
		{
			name: "headless",
			svc:  svc(corev1.ServiceTypeClusterIP, "None", http),
			want: []interface{}{"ClusterIP", "None", "<none>", "80/TCP"},
		},
		{
			name: "node port",
			svc:  svc(corev1.ServiceTypeNodePort, "10.96.0.12", withNodePort(http, 30080)),
			want: []interface{}{"NodePort", "10.96.0.12", "<none>", "80:30080/TCP"},
		},
		{
			name: "load balancer waiting for an address",
			svc: svc(corev1.ServiceTypeLoadBalancer, "10.96.0.13", withNodePort(http, 31380),
				corev1.ServicePort{Name: "https", Port: 443, NodePort: 31390, Protocol: corev1.ProtocolTCP}),
			want: []interface{}{"LoadBalancer", "10.96.0.13", "<pending>", "80:31380/TCP,443:31390/TCP"},
		},
		{
			name: "load balancer with addresses and external IPs",
			svc: func() *corev1.Service {
				s := svc(corev1.ServiceTypeLoadBalancer, "10.96.0.14", withNodePort(http, 31381))
				s.Spec.ExternalIPs = []string{"192.0.2.9"}
				s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{
					{Hostname: "lb.example.com"}, {IP: "192.168.1.240"}, {IP: "192.168.1.240"}}
				return s
			}(),
			want: []interface{}{"LoadBalancer", "10.96.0.14", "192.168.1.240,lb.example.com,192.0.2.9", "80:31381/TCP"},
		},
		{
			name: "external name",
			svc: func() *corev1.Service {
				s := svc(corev1.ServiceTypeExternalName, "")
				s.Spec.ExternalName = "db.example.com"
				return s
			}(),
			want: []interface{}{"ExternalName", "<none>", "db.example.com", "<none>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := rowOf(t, schema.GroupKind{Kind: "Service"}, tt.svc)
			if diff := cmp.Diff(tt.want, row[1:5]); diff != "" {
				t.Errorf("TYPE..PORT(S) (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]interface{}{"web", "10m", "app=web"}, []interface{}{row[0], row[5], row[6]}); diff != "" {
				t.Errorf("NAME, AGE, SELECTOR (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNode(t *testing.T) {
	ready := func(s corev1.ConditionStatus) []corev1.NodeCondition {
		return []corev1.NodeCondition{
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
			{Type: corev1.NodeReady, Status: s},
		}
	}
	node := func(conds []corev1.NodeCondition, cordoned bool) *corev1.Node {
		return &corev1.Node{ObjectMeta: meta("node-1"), Spec: corev1.NodeSpec{Unschedulable: cordoned},
			Status: corev1.NodeStatus{Conditions: conds}}
	}
	tests := []struct {
		name string
		node *corev1.Node
		want []interface{}
	}{
		{
			name: "ready control plane, wide",
			node: &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: "cp-1", CreationTimestamp: ago(49 * time.Hour), Labels: map[string]string{
					"node-role.kubernetes.io/control-plane": "",
					"kubernetes.io/role":                    "master",
					"node-role.kubernetes.io/":              "ignored: no role named",
				}},
				Status: corev1.NodeStatus{
					Conditions: ready(corev1.ConditionTrue),
					Addresses: []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "cp-1"},
						{Type: corev1.NodeInternalIP, Address: "192.168.1.10"}, {Type: corev1.NodeInternalIP, Address: "fd00::10"}},
					NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.37.0-skiff", OSImage: "Debian GNU/Linux 12 (bookworm)",
						KernelVersion: "6.1.0-18-amd64", ContainerRuntimeVersion: "containerd://1.6.20"},
				},
			},
			want: []interface{}{"cp-1", "Ready", "control-plane,master", "2d1h", "v1.37.0-skiff", "192.168.1.10", "<none>",
				"Debian GNU/Linux 12 (bookworm)", "6.1.0-18-amd64", "containerd://1.6.20"},
		},
		{
			name: "not ready",
			node: node(ready(corev1.ConditionFalse), false),
			want: []interface{}{"node-1", "NotReady", "<none>", "10m", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
		{
			name: "stopped reporting",
			node: node(ready(corev1.ConditionUnknown), false),
			want: []interface{}{"node-1", "NotReady", "<none>", "10m", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
		{
			name: "never reported",
			node: node(nil, false),
			want: []interface{}{"node-1", "Unknown", "<none>", "10m", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
		{
			name: "cordoned",
			node: node(ready(corev1.ConditionTrue), true),
			want: []interface{}{"node-1", "Ready,SchedulingDisabled", "<none>", "10m", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, rowOf(t, schema.GroupKind{Kind: "Node"}, tt.node)); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJob(t *testing.T) {
	cond := func(c batchv1.JobConditionType, s corev1.ConditionStatus) []batchv1.JobCondition {
		return []batchv1.JobCondition{{Type: c, Status: s}}
	}
	tests := []struct {
		name string
		spec batchv1.JobSpec
		st   batchv1.JobStatus
		del  bool
		// want is STATUS, COMPLETIONS, DURATION.
		want []interface{}
	}{
		{
			name: "running",
			spec: batchv1.JobSpec{Completions: ptr(int32(5)), Parallelism: ptr(int32(2))},
			st:   batchv1.JobStatus{Succeeded: 3, Active: 2, StartTime: agoPtr(90 * time.Second)},
			want: []interface{}{"Running", "3/5", "90s"},
		},
		{
			name: "complete",
			spec: batchv1.JobSpec{Completions: ptr(int32(1))},
			st: batchv1.JobStatus{Succeeded: 1, StartTime: agoPtr(5 * time.Minute), CompletionTime: agoPtr(150 * time.Second),
				Conditions: cond(batchv1.JobComplete, corev1.ConditionTrue)},
			want: []interface{}{"Complete", "1/1", "2m30s"},
		},
		{
			name: "work queue: done after one success however many run",
			spec: batchv1.JobSpec{Parallelism: ptr(int32(3))},
			st:   batchv1.JobStatus{Active: 3, StartTime: agoPtr(time.Hour)},
			want: []interface{}{"Running", "0/1 of 3", "60m"},
		},
		{
			name: "no completions, no parallelism",
			st:   batchv1.JobStatus{StartTime: agoPtr(3 * 24 * time.Hour)},
			want: []interface{}{"Running", "0/1", "3d"},
		},
		{
			name: "failed",
			spec: batchv1.JobSpec{Completions: ptr(int32(1))},
			st: batchv1.JobStatus{Failed: 7, StartTime: agoPtr(5 * time.Minute),
				Conditions: cond(batchv1.JobFailed, corev1.ConditionTrue)},
			want: []interface{}{"Failed", "0/1", "5m"},
		},
		{
			name: "about to fail",
			spec: batchv1.JobSpec{Completions: ptr(int32(1))},
			st:   batchv1.JobStatus{StartTime: agoPtr(5 * time.Minute), Conditions: cond(batchv1.JobFailureTarget, corev1.ConditionTrue)},
			want: []interface{}{"FailureTarget", "0/1", "5m"},
		},
		{
			name: "suspended before starting",
			spec: batchv1.JobSpec{Completions: ptr(int32(2)), Suspend: ptr(true)},
			st:   batchv1.JobStatus{Conditions: cond(batchv1.JobSuspended, corev1.ConditionTrue)},
			want: []interface{}{"Suspended", "0/2", ""},
		},
		{
			name: "a condition that is not true does not count",
			spec: batchv1.JobSpec{Completions: ptr(int32(2))},
			st:   batchv1.JobStatus{StartTime: agoPtr(time.Minute), Conditions: cond(batchv1.JobComplete, corev1.ConditionFalse)},
			want: []interface{}{"Running", "0/2", "60s"},
		},
		{
			name: "terminating",
			spec: batchv1.JobSpec{Completions: ptr(int32(2))},
			st:   batchv1.JobStatus{StartTime: agoPtr(time.Minute)},
			del:  true,
			want: []interface{}{"Terminating", "0/2", "60s"},
		},
		{
			name: "a complete job being deleted stays complete",
			spec: batchv1.JobSpec{Completions: ptr(int32(1))},
			st: batchv1.JobStatus{Succeeded: 1, StartTime: agoPtr(time.Minute), CompletionTime: agoPtr(50 * time.Second),
				Conditions: cond(batchv1.JobComplete, corev1.ConditionTrue)},
			del:  true,
			want: []interface{}{"Complete", "1/1", "10s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := &batchv1.Job{ObjectMeta: meta("pi"), Spec: tt.spec, Status: tt.st}
			if tt.del {
				job.DeletionTimestamp = agoPtr(time.Second)
			}
			row := rowOf(t, schema.GroupKind{Group: "batch", Kind: "Job"}, job)
			if diff := cmp.Diff(tt.want, row[1:4]); diff != "" {
				t.Errorf("STATUS, COMPLETIONS, DURATION (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHPATargets(t *testing.T) {
	cpu := func(target int32) autoscalingv2.MetricSpec {
		return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &target}}}
	}
	cpuNow := func(current int32) autoscalingv2.MetricStatus {
		return autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
			Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: &current}}}
	}
	memory := autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
		Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType,
			AverageValue: ptr(resource.MustParse("200Mi"))}}}
	memoryNow := autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
		Name: corev1.ResourceMemory, Current: autoscalingv2.MetricValueStatus{AverageValue: ptr(resource.MustParse("100Mi"))}}}
	pods := autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: "packets-per-second"},
		Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr(resource.MustParse("1k"))}}}
	podsNow := autoscalingv2.MetricStatus{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricStatus{
		Metric: autoscalingv2.MetricIdentifier{Name: "packets-per-second"}, Current: autoscalingv2.MetricValueStatus{AverageValue: ptr(resource.MustParse("500"))}}}
	queue := func(target autoscalingv2.MetricTarget) autoscalingv2.MetricSpec {
		return autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: "queue_length"}, Target: target}}
	}
	queueNow := autoscalingv2.MetricStatus{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricStatus{
		Metric:  autoscalingv2.MetricIdentifier{Name: "queue_length"},
		Current: autoscalingv2.MetricValueStatus{Value: ptr(resource.MustParse("12")), AverageValue: ptr(resource.MustParse("4"))}}}

	tests := []struct {
		name     string
		specs    []autoscalingv2.MetricSpec
		statuses []autoscalingv2.MetricStatus
		want     string
	}{
		{"no metrics", nil, nil, "<none>"},
		{"cpu measured", []autoscalingv2.MetricSpec{cpu(50)}, []autoscalingv2.MetricStatus{cpuNow(45)}, "cpu: 45%/50%"},
		{"cpu not measured yet", []autoscalingv2.MetricSpec{cpu(50)}, nil, "cpu: <unknown>/50%"},
		{"memory by average value", []autoscalingv2.MetricSpec{memory}, []autoscalingv2.MetricStatus{memoryNow}, "memory: 100Mi/200Mi"},
		{"pods metric", []autoscalingv2.MetricSpec{pods}, []autoscalingv2.MetricStatus{podsNow}, "500/1k"},
		{"external value", []autoscalingv2.MetricSpec{queue(autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType,
			Value: ptr(resource.MustParse("10"))})}, []autoscalingv2.MetricStatus{queueNow}, "12/10"},
		{"external average", []autoscalingv2.MetricSpec{queue(autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType,
			AverageValue: ptr(resource.MustParse("5"))})}, nil, "<unknown>/5 (avg)"},
		{"more than two", []autoscalingv2.MetricSpec{cpu(50), memory, pods}, []autoscalingv2.MetricStatus{cpuNow(80)},
			"cpu: 80%/50%, memory: <unknown>/200Mi + 1 more..."},
		{"a type without its source", []autoscalingv2.MetricSpec{{Type: autoscalingv2.ObjectMetricSourceType}}, nil, "<unknown type>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hpa := &autoscalingv2.HorizontalPodAutoscaler{
				ObjectMeta: meta("web"),
				Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
					ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web", APIVersion: "apps/v1"},
					MinReplicas:    ptr(int32(1)), MaxReplicas: 10, Metrics: tt.specs},
				Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 3, CurrentMetrics: tt.statuses},
			}
			got := rowOf(t, schema.GroupKind{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}, hpa)
			want := []interface{}{"web", "Deployment/web", tt.want, "1", int64(10), int64(3), "10m"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvent(t *testing.T) {
	tests := []struct {
		name string
		ev   *corev1.Event
		want []interface{}
	}{
		{
			name: "recorded by the kubelet, repeated",
			ev: &corev1.Event{
				ObjectMeta:     meta("web.17a2b3c4d5e6f708"),
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", FieldPath: "spec.containers{app}"},
				Reason:         "Pulled", Message: "Container image \"registry.local/app:1\" already present on machine\n",
				Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
				FirstTimestamp: ago(10 * time.Minute), LastTimestamp: ago(2 * time.Minute), Count: 3, Type: corev1.EventTypeNormal,
			},
			want: []interface{}{"2m", "Normal", "Pulled", "pod/web", "spec.containers{app}", "kubelet, node-1",
				"Container image \"registry.local/app:1\" already present on machine", "10m", int64(3), "web.17a2b3c4d5e6f708"},
		},
		{
			name: "singleton from a controller, about an unnamed object",
			ev: &corev1.Event{
				ObjectMeta:          meta("node.1"),
				InvolvedObject:      corev1.ObjectReference{Kind: "Node"},
				Reason:              "RegisteredNode",
				EventTime:           metav1.NewMicroTime(now.Add(-5 * time.Minute)),
				ReportingController: "skiff/node-controller",
				Type:                corev1.EventTypeNormal,
			},
			want: []interface{}{"5m", "Normal", "RegisteredNode", "node", "", "skiff/node-controller", "", "5m", int64(1), "node.1"},
		},
		{
			name: "no time at all",
			ev:   &corev1.Event{ObjectMeta: meta("x"), InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p"}},
			want: []interface{}{"<unknown>", "", "", "pod/p", "", "", "", "<unknown>", int64(1), "x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, rowOf(t, schema.GroupKind{Kind: "Event"}, tt.ev)); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}
