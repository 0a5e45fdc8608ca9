package printers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestOtherKinds prints one typical object of every remaining kind, full row.
func TestOtherKinds(t *testing.T) {
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: containers("app"), NodeSelector: map[string]string{"disk": "ssd"}},
	}
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	owned := meta("web-6d4cf56db6")
	owned.OwnerReferences = []metav1.OwnerReference{
		{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "web", Controller: ptr(true)}}
	withAnnotation := func(m metav1.ObjectMeta, k, v string) metav1.ObjectMeta {
		m.Annotations = map[string]string{k: v}
		return m
	}
	port := func(p int32) corev1.EndpointPort { return corev1.EndpointPort{Port: p, Protocol: corev1.ProtocolTCP} }
	addrs := func(ips ...string) []corev1.EndpointAddress {
		out := make([]corev1.EndpointAddress, len(ips))
		for i, ip := range ips {
			out[i] = corev1.EndpointAddress{IP: ip}
		}
		return out
	}
	terminating := meta("data")
	terminating.DeletionTimestamp = agoPtr(time.Second)

	tests := []struct {
		name string
		gk   schema.GroupKind
		obj  runtime.Object
		want []interface{}
	}{
		{
			name: "replica set",
			gk:   schema.GroupKind{Group: "apps", Kind: "ReplicaSet"},
			obj: &appsv1.ReplicaSet{ObjectMeta: meta("web-6d4cf56db6"),
				Spec:   appsv1.ReplicaSetSpec{Replicas: ptr(int32(3)), Selector: selector, Template: template},
				Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1}},
			want: []interface{}{"web-6d4cf56db6", int64(3), int64(3), int64(1), "10m", "app", "registry.local/app:1", "app=web"},
		},
		{
			name: "stateful set",
			gk:   schema.GroupKind{Group: "apps", Kind: "StatefulSet"},
			obj: &appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(3)), Template: template},
				Status: appsv1.StatefulSetStatus{ReadyReplicas: 2}},
			want: []interface{}{"db", "2/3", "10m", "app", "registry.local/app:1"},
		},
		{
			name: "daemon set",
			gk:   schema.GroupKind{Group: "apps", Kind: "DaemonSet"},
			obj: &appsv1.DaemonSet{ObjectMeta: meta("proxy"), Spec: appsv1.DaemonSetSpec{Selector: selector, Template: template},
				Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2,
					UpdatedNumberScheduled: 3, NumberAvailable: 2}},
			want: []interface{}{"proxy", int64(3), int64(3), int64(2), int64(3), int64(2), "disk=ssd", "10m",
				"app", "registry.local/app:1", "app=web"},
		},
		{
			name: "controller revision",
			gk:   schema.GroupKind{Group: "apps", Kind: "ControllerRevision"},
			obj:  &appsv1.ControllerRevision{ObjectMeta: owned, Revision: 4},
			want: []interface{}{"web-6d4cf56db6", "statefulset.apps/web", int64(4), "10m"},
		},
		{
			name: "replication controller",
			gk:   schema.GroupKind{Kind: "ReplicationController"},
			obj: &corev1.ReplicationController{ObjectMeta: meta("old"),
				Spec:   corev1.ReplicationControllerSpec{Replicas: ptr(int32(2)), Selector: map[string]string{"app": "old"}, Template: &template},
				Status: corev1.ReplicationControllerStatus{Replicas: 2, ReadyReplicas: 2}},
			want: []interface{}{"old", int64(2), int64(2), int64(2), "10m", "app", "registry.local/app:1", "app=old"},
		},
		{
			name: "pod template",
			gk:   schema.GroupKind{Kind: "PodTemplate"},
			obj:  &corev1.PodTemplate{ObjectMeta: meta("tpl"), Template: template},
			want: []interface{}{"tpl", "app", "registry.local/app:1", "app=web"},
		},
		{
			name: "cron job",
			gk:   schema.GroupKind{Group: "batch", Kind: "CronJob"},
			obj: &batchv1.CronJob{ObjectMeta: meta("backup"),
				Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", TimeZone: ptr("Europe/Paris"), Suspend: ptr(false),
					JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template}}},
				Status: batchv1.CronJobStatus{Active: []corev1.ObjectReference{{Name: "backup-1"}}, LastScheduleTime: agoPtr(3 * time.Minute)}},
			want: []interface{}{"backup", "*/5 * * * *", "Europe/Paris", "False", int64(1), "3m", "10m", "app", "registry.local/app:1", "<none>"},
		},
		{
			name: "cron job never run",
			gk:   schema.GroupKind{Group: "batch", Kind: "CronJob"},
			obj:  &batchv1.CronJob{ObjectMeta: meta("backup"), Spec: batchv1.CronJobSpec{Schedule: "@hourly", Suspend: ptr(true)}},
			want: []interface{}{"backup", "@hourly", "<none>", "True", int64(0), "<none>", "10m", "", "", "<none>"},
		},
		{
			name: "endpoints, truncated",
			gk:   schema.GroupKind{Kind: "Endpoints"},
			obj: &corev1.Endpoints{ObjectMeta: meta("web"), Subsets: []corev1.EndpointSubset{
				{Addresses: addrs("10.244.1.2", "10.244.2.3"), Ports: []corev1.EndpointPort{port(8080), port(8443)}}}},
			want: []interface{}{"web", "10.244.1.2:8080,10.244.2.3:8080,10.244.1.2:8443 + 1 more...", "10m"},
		},
		{
			name: "endpoints of a headless service without ports",
			gk:   schema.GroupKind{Kind: "Endpoints"},
			obj: &corev1.Endpoints{ObjectMeta: meta("db"), Subsets: []corev1.EndpointSubset{
				{Addresses: addrs("10.244.1.2", "fd00::2")}}},
			want: []interface{}{"db", "10.244.1.2,fd00::2", "10m"},
		},
		{
			name: "endpoint slice",
			gk:   schema.GroupKind{Group: "discovery.k8s.io", Kind: "EndpointSlice"},
			obj: &discoveryv1.EndpointSlice{ObjectMeta: meta("web-abcde"), AddressType: discoveryv1.AddressTypeIPv4,
				Ports:     []discoveryv1.EndpointPort{{Port: ptr(int32(8080))}, {Name: ptr("metrics")}},
				Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.1.2"}}, {Addresses: []string{"10.244.2.3"}}}},
			want: []interface{}{"web-abcde", "IPv4", "8080,metrics", "10.244.1.2,10.244.2.3", "10m"},
		},
		{
			name: "ingress",
			gk:   schema.GroupKind{Group: "networking.k8s.io", Kind: "Ingress"},
			obj: &networkingv1.Ingress{ObjectMeta: meta("web"),
				Spec: networkingv1.IngressSpec{IngressClassName: ptr("skiff"), TLS: []networkingv1.IngressTLS{{Hosts: []string{"a.example.com"}}},
					Rules: []networkingv1.IngressRule{{Host: "a.example.com"}, {}, {Host: "b.example.com"}, {Host: "c.example.com"}, {Host: "d.example.com"}}},
				Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{
					Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "192.168.1.240"}}}}},
			want: []interface{}{"web", "skiff", "a.example.com,b.example.com,c.example.com + 2 more...", "192.168.1.240", "80, 443", "10m"},
		},
		{
			name: "ingress for every host",
			gk:   schema.GroupKind{Group: "networking.k8s.io", Kind: "Ingress"},
			obj:  &networkingv1.Ingress{ObjectMeta: meta("all"), Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{}}}},
			want: []interface{}{"all", "<none>", "*", "", "80", "10m"},
		},
		{
			name: "ingress class",
			gk:   schema.GroupKind{Group: "networking.k8s.io", Kind: "IngressClass"},
			obj: &networkingv1.IngressClass{ObjectMeta: meta("skiff"), Spec: networkingv1.IngressClassSpec{Controller: "skiff.dev/ingress",
				Parameters: &networkingv1.IngressClassParametersReference{APIGroup: ptr("example.com"), Kind: "Params", Name: "p"}}},
			want: []interface{}{"skiff", "skiff.dev/ingress", "Params.example.com/p", "10m"},
		},
		{
			name: "network policy",
			gk:   schema.GroupKind{Group: "networking.k8s.io", Kind: "NetworkPolicy"},
			obj:  &networkingv1.NetworkPolicy{ObjectMeta: meta("deny-all")},
			want: []interface{}{"deny-all", "<none>", "10m"},
		},
		{
			name: "persistent volume",
			gk:   schema.GroupKind{Kind: "PersistentVolume"},
			obj: &corev1.PersistentVolume{ObjectMeta: meta("pv-1"), Spec: corev1.PersistentVolumeSpec{
				Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOnce},
				ClaimRef:    &corev1.ObjectReference{Namespace: "default", Name: "data"}, StorageClassName: "local",
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain, VolumeMode: ptr(corev1.PersistentVolumeFilesystem)},
				Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound}},
			want: []interface{}{"pv-1", "10Gi", "RWO,RWX", "Retain", "Bound", "default/data", "local", "<unset>", "", "10m", "Filesystem"},
		},
		{
			name: "bound claim",
			gk:   schema.GroupKind{Kind: "PersistentVolumeClaim"},
			obj: &corev1.PersistentVolumeClaim{ObjectMeta: meta("data"),
				Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-1", StorageClassName: ptr("local")},
				Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}}},
			want: []interface{}{"data", "Bound", "pv-1", "10Gi", "RWO", "local", "<unset>", "10m", "<unset>"},
		},
		{
			name: "pending claim being deleted, class from the beta annotation",
			gk:   schema.GroupKind{Kind: "PersistentVolumeClaim"},
			obj: &corev1.PersistentVolumeClaim{ObjectMeta: withAnnotation(terminating, betaStorageClassAnnotation, "old"),
				Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr("local")}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}},
			want: []interface{}{"data", "Terminating", "", "", "", "old", "<unset>", "10m", "<unset>"},
		},
		{
			name: "default storage class",
			gk:   schema.GroupKind{Group: "storage.k8s.io", Kind: "StorageClass"},
			obj: &storagev1.StorageClass{ObjectMeta: withAnnotation(meta("local"), defaultClassAnnotation, "true"),
				Provisioner: "skiff.dev/local-path", VolumeBindingMode: ptr(storagev1.VolumeBindingWaitForFirstConsumer)},
			want: []interface{}{"local (default)", "skiff.dev/local-path", "Delete", "WaitForFirstConsumer", false, "10m"},
		},
		{
			name: "volume attributes class",
			gk:   schema.GroupKind{Group: "storage.k8s.io", Kind: "VolumeAttributesClass"},
			obj:  &storagev1.VolumeAttributesClass{ObjectMeta: meta("gold"), DriverName: "hostpath.csi.k8s.io", Parameters: map[string]string{"iops": "500"}},
			want: []interface{}{"gold", "hostpath.csi.k8s.io", "10m"},
		},
		{
			name: "role binding",
			gk:   schema.GroupKind{Group: rbacGroup, Kind: "RoleBinding"},
			obj: &rbacv1.RoleBinding{ObjectMeta: meta("read"), RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"},
				Subjects: []rbacv1.Subject{{Kind: "User", Name: "jane"}, {Kind: "Group", Name: "devs"}, {Kind: "User", Name: "joe"},
					{Kind: "ServiceAccount", Namespace: "ci", Name: "deployer"}}},
			want: []interface{}{"read", "ClusterRole/view", "10m", "jane, joe", "devs", "ci/deployer"},
		},
		{
			name: "pod disruption budget",
			gk:   schema.GroupKind{Group: "policy", Kind: "PodDisruptionBudget"},
			obj: &policyv1.PodDisruptionBudget{ObjectMeta: meta("web"),
				Spec:   policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr(intstr.FromString("50%"))},
				Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1}},
			want: []interface{}{"web", "50%", "N/A", int64(1), "10m"},
		},
		{
			name: "priority class",
			gk:   schema.GroupKind{Group: "scheduling.k8s.io", Kind: "PriorityClass"},
			obj: &schedulingv1.PriorityClass{ObjectMeta: meta("system-node-critical"), Value: 2000001000,
				PreemptionPolicy: ptr(corev1.PreemptLowerPriority)},
			want: []interface{}{"system-node-critical", int64(2000001000), false, "10m", "PreemptLowerPriority"},
		},
		{
			name: "flow schema",
			gk:   schema.GroupKind{Group: "flowcontrol.apiserver.k8s.io", Kind: "FlowSchema"},
			obj: &flowcontrolv1.FlowSchema{ObjectMeta: meta("service-accounts"), Spec: flowcontrolv1.FlowSchemaSpec{
				PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "workload-low"}, MatchingPrecedence: 9000,
				DistinguisherMethod: &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType}},
				Status: flowcontrolv1.FlowSchemaStatus{Conditions: []flowcontrolv1.FlowSchemaCondition{{Type: "Dangling", Status: "False"}}}},
			want: []interface{}{"service-accounts", "workload-low", int64(9000), "ByUser", "10m", "False"},
		},
		{
			name: "priority level",
			gk:   schema.GroupKind{Group: "flowcontrol.apiserver.k8s.io", Kind: "PriorityLevelConfiguration"},
			obj: &flowcontrolv1.PriorityLevelConfiguration{ObjectMeta: meta("workload-low"), Spec: flowcontrolv1.PriorityLevelConfigurationSpec{
				Type: flowcontrolv1.PriorityLevelEnablementLimited, Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{
					NominalConcurrencyShares: ptr(int32(100)), LimitResponse: flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeQueue,
						Queuing: &flowcontrolv1.QueuingConfiguration{Queues: 128, HandSize: 6, QueueLengthLimit: 50}}}}},
			want: []interface{}{"workload-low", "Limited", "100", "128", "6", "50", "10m"},
		},
		{
			name: "runtime class",
			gk:   schema.GroupKind{Group: "node.k8s.io", Kind: "RuntimeClass"},
			obj:  &nodev1.RuntimeClass{ObjectMeta: meta("gvisor"), Handler: "runsc"},
			want: []interface{}{"gvisor", "runsc", "10m"},
		},
		{
			name: "resource quota",
			gk:   schema.GroupKind{Kind: "ResourceQuota"},
			obj: &corev1.ResourceQuota{ObjectMeta: meta("compute"), Status: corev1.ResourceQuotaStatus{
				Hard: corev1.ResourceList{"requests.cpu": resource.MustParse("2"), "limits.memory": resource.MustParse("4Gi"),
					"pods": resource.MustParse("10"), "limits.cpu": resource.MustParse("4")},
				Used: corev1.ResourceList{"requests.cpu": resource.MustParse("500m"), "pods": resource.MustParse("3")}}},
			want: []interface{}{"compute", "pods: 3/10, requests.cpu: 500m/2", "limits.cpu: 0/4, limits.memory: 0/4Gi", "10m"},
		},
		{
			name: "config map",
			gk:   schema.GroupKind{Kind: "ConfigMap"},
			obj: &corev1.ConfigMap{ObjectMeta: meta("cfg"), Data: map[string]string{"a": "1", "b": "2"},
				BinaryData: map[string][]byte{"c": {0}}},
			want: []interface{}{"cfg", int64(3), "10m"},
		},
		{
			name: "secret",
			gk:   schema.GroupKind{Kind: "Secret"},
			obj: &corev1.Secret{ObjectMeta: meta("tls"), Type: corev1.SecretTypeTLS,
				Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}},
			want: []interface{}{"tls", "kubernetes.io/tls", int64(2), "10m"},
		},
		{
			name: "service account",
			gk:   schema.GroupKind{Kind: "ServiceAccount"},
			obj:  &corev1.ServiceAccount{ObjectMeta: meta("default")},
			want: []interface{}{"default", int64(0), "10m"},
		},
		{
			name: "namespace",
			gk:   schema.GroupKind{Kind: "Namespace"},
			obj:  &corev1.Namespace{ObjectMeta: meta("kube-system"), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
			want: []interface{}{"kube-system", "Active", "10m"},
		},
		{
			name: "lease",
			gk:   schema.GroupKind{Group: "coordination.k8s.io", Kind: "Lease"},
			obj:  &coordinationv1.Lease{ObjectMeta: meta("node-1"), Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-1")}},
			want: []interface{}{"node-1", "node-1", "10m"},
		},
		{
			name: "limit range",
			gk:   schema.GroupKind{Kind: "LimitRange"},
			obj:  &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "defaults", CreationTimestamp: ago(0)}},
			want: []interface{}{"defaults", "2026-11-23T12:00:00Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, rowOf(t, tt.gk, tt.obj)); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}
