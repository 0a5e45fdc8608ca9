package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func rtPVC() *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: rtMeta("data"), Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
}

func rtHPA() *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: rtMeta("web"), Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}, MaxReplicas: 5,
	}}
}

func rtPV() *corev1.PersistentVolume {
	return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv1", ResourceVersion: "7"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data/pv1"}},
	}}
}

func TestKindDefaults(t *testing.T) {
	tests := []struct {
		name     string
		strategy Strategy
		in, want runtime.Object
	}{
		{"secret type Opaque", secretStrategy{},
			&corev1.Secret{ObjectMeta: rtMeta("s"), StringData: map[string]string{"k": "v"}},
			&corev1.Secret{ObjectMeta: rtMeta("s"), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"k": []byte("v")}}},
		{"pvc Filesystem and Pending", pvcStrategy{}, rtPVC(), func() runtime.Object {
			p := rtPVC()
			p.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
			p.Status.Phase = corev1.ClaimPending
			return p
		}()},
		{"storageclass Delete and Immediate", storageClassStrategy{},
			&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Provisioner: "skiff.io/local"},
			&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Provisioner: "skiff.io/local",
				ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimDelete), VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)}},
		{"hpa minReplicas and CPU 80%", hpaStrategy{}, rtHPA(), func() runtime.Object {
			h := rtHPA()
			h.Spec.MinReplicas = ptr.To[int32](1)
			h.Spec.Metrics = []autoscalingv2.MetricSpec{hpaCPUMetric(80)}
			return h
		}()},
		{"networkpolicy types from rules", networkPolicyStrategy{},
			&networkingv1.NetworkPolicy{ObjectMeta: rtMeta("np"), Spec: networkingv1.NetworkPolicySpec{
				Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(53))}}}}}},
			&networkingv1.NetworkPolicy{ObjectMeta: rtMeta("np"), Spec: networkingv1.NetworkPolicySpec{
				Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{
					Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(53))}}}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}}}},
		{"priorityclass PreemptLowerPriority", priorityClassStrategy{},
			&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000},
			&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000, PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority)}},
		{"rolebinding API groups", roleBindingStrategy{},
			&rbacv1.RoleBinding{ObjectMeta: rtMeta("rb"), RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "r"},
				Subjects: []rbacv1.Subject{{Kind: "User", Name: "jane"}, {Kind: "ServiceAccount", Name: "sa"}}},
			&rbacv1.RoleBinding{ObjectMeta: rtMeta("rb"), RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "r"},
				Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "jane"}, {Kind: "ServiceAccount", Name: "sa"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if errs := rtCreate(tt.strategy, tt.in); len(errs) != 0 {
				t.Fatalf("unexpected errors: %v", errs)
			}
			if diff := cmp.Diff(tt.want, tt.in, rtCmpOpts); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestKindValidation(t *testing.T) {
	tests := []struct {
		name     string
		strategy Strategy
		obj      runtime.Object
		want     []rtErr
	}{
		{"configmap bad key", configMapStrategy{}, &corev1.ConfigMap{ObjectMeta: rtMeta("c"), Data: map[string]string{"bad key": "v"}},
			[]rtErr{{field.ErrorTypeInvalid, "data[bad key]"}}},
		{"configmap key in data and binaryData", configMapStrategy{}, &corev1.ConfigMap{ObjectMeta: rtMeta("c"),
			Data: map[string]string{"k": "v"}, BinaryData: map[string][]byte{"k": nil}}, []rtErr{{field.ErrorTypeInvalid, "data[k]"}}},
		{"configmap over 1MiB", configMapStrategy{}, &corev1.ConfigMap{ObjectMeta: rtMeta("c"),
			Data: map[string]string{"k": string(make([]byte, corev1.MaxSecretSize+1))}}, []rtErr{{field.ErrorTypeTooLong, "[]"}}},
		{"tls secret without key", secretStrategy{}, &corev1.Secret{ObjectMeta: rtMeta("s"), Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": []byte("x")}}, []rtErr{{field.ErrorTypeRequired, "data[tls.key]"}}},
		{"dockerconfigjson secret empty", secretStrategy{}, &corev1.Secret{ObjectMeta: rtMeta("s"), Type: corev1.SecretTypeDockerConfigJson},
			[]rtErr{{field.ErrorTypeRequired, "data[.dockerconfigjson]"}}},
		{"token secret without annotation", secretStrategy{}, &corev1.Secret{ObjectMeta: rtMeta("s"), Type: corev1.SecretTypeServiceAccountToken},
			[]rtErr{{field.ErrorTypeRequired, "metadata.annotations[kubernetes.io/service-account.name]"}}},
		{"pvc without access modes or size", pvcStrategy{}, &corev1.PersistentVolumeClaim{ObjectMeta: rtMeta("d")},
			[]rtErr{{field.ErrorTypeRequired, "spec.accessModes"}, {field.ErrorTypeRequired, "spec.resources[storage]"}}},
		{"pv with two sources", pvStrategy{}, func() runtime.Object {
			pv := rtPV()
			pv.Spec.NFS = &corev1.NFSVolumeSource{Server: "nfs", Path: "/x"}
			return pv
		}(), []rtErr{{field.ErrorTypeForbidden, "spec.nfs"}}},
		{"pv without capacity", pvStrategy{}, func() runtime.Object {
			pv := rtPV()
			pv.Spec.Capacity = nil
			return pv
		}(), []rtErr{{field.ErrorTypeRequired, "spec.capacity"}, {field.ErrorTypeNotSupported, "spec.capacity"}}},
		{"storageclass without provisioner", storageClassStrategy{}, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "x"}},
			[]rtErr{{field.ErrorTypeRequired, "provisioner"}}},
		{"hpa max below min", hpaStrategy{}, func() runtime.Object {
			h := rtHPA()
			h.Spec.MinReplicas, h.Spec.MaxReplicas = ptr.To[int32](3), 2
			h.Spec.ScaleTargetRef.Name = ""
			return h
		}(), []rtErr{{field.ErrorTypeInvalid, "spec.maxReplicas"}, {field.ErrorTypeRequired, "spec.scaleTargetRef.name"}}},
		{"hpa metric without source", hpaStrategy{}, func() runtime.Object {
			h := rtHPA()
			h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType}}
			return h
		}(), []rtErr{{field.ErrorTypeRequired, "spec.metrics[0].pods"}}},
		{"pdb both budgets", pdbStrategy{}, &policyv1.PodDisruptionBudget{ObjectMeta: rtMeta("p"), Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromString("150%"))}},
			[]rtErr{{field.ErrorTypeInvalid, "spec"}, {field.ErrorTypeInvalid, "spec.maxUnavailable"}}},
		{"ingress path without type and bad backend", ingressStrategy{}, &networkingv1.Ingress{ObjectMeta: rtMeta("i"), Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{Host: "*.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{
					{Path: "/", Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}},
					{Path: "/a", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web"}}},
				}}}}},
			TLS: []networkingv1.IngressTLS{{Hosts: []string{"bad_host"}}}}},
			[]rtErr{{field.ErrorTypeRequired, "spec.rules[0].http.paths[0].pathType"}, {field.ErrorTypeRequired, "spec.rules[0].http.paths[1].backend"},
				{field.ErrorTypeInvalid, "spec.tls[0].hosts[0]"}}},
		{"networkpolicy peer with ipBlock and selector", networkPolicyStrategy{}, &networkingv1.NetworkPolicy{ObjectMeta: rtMeta("np"), Spec: networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
				PodSelector: &metav1.LabelSelector{}, IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"192.168.0.0/16"}}}}}}}},
			[]rtErr{{field.ErrorTypeInvalid, "spec.ingress[0].from[0].ipBlock.except[0]"}, {field.ErrorTypeForbidden, "spec.ingress[0].from[0]"}}},
		{"role rule without verbs", roleStrategy{}, &rbacv1.Role{ObjectMeta: rtMeta("r"), Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}}}},
			[]rtErr{{field.ErrorTypeRequired, "rules[0].verbs"}}},
		{"clusterrolebinding to Role, odd subject", clusterRoleBindingStrategy{}, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "b"},
			RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "r"}, Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "sa"}, {Kind: "Robot", Name: "x"}}},
			[]rtErr{{field.ErrorTypeNotSupported, "roleRef.kind"}, {field.ErrorTypeRequired, "subjects[0].namespace"}, {field.ErrorTypeNotSupported, "subjects[1].kind"}}},
		{"priorityclass too high and system prefix", priorityClassStrategy{}, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-mine"}, Value: 5},
			[]rtErr{{field.ErrorTypeForbidden, "metadata.name"}}},
		{"priorityclass over 1e9", priorityClassStrategy{}, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "huge"}, Value: 1000000001},
			[]rtErr{{field.ErrorTypeForbidden, "value"}}},
		{"endpoints loopback address", endpointsStrategy{}, &corev1.Endpoints{ObjectMeta: rtMeta("web"), Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "127.0.0.1"}, {IP: "nope"}}, Ports: []corev1.EndpointPort{{Port: 0}}}}},
			[]rtErr{{field.ErrorTypeInvalid, "subsets[0].addresses[0].ip"}, {field.ErrorTypeInvalid, "subsets[0].addresses[1].ip"}, {field.ErrorTypeInvalid, "subsets[0].ports[0].port"}}},
		{"event without object in wrong namespace", eventStrategy{}, &corev1.Event{ObjectMeta: rtMeta("e.1")},
			[]rtErr{{field.ErrorTypeRequired, "involvedObject"}}},
		{"event namespace mismatch", eventStrategy{}, &corev1.Event{ObjectMeta: rtMeta("e.1"), InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p", Namespace: "other"}},
			[]rtErr{{field.ErrorTypeInvalid, "involvedObject.namespace"}}},
		{"node taint without effect", nodeStrategy{}, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "k"}}}},
			[]rtErr{{field.ErrorTypeRequired, "metadata.taints[0].effect"}}},
		{"quota negative and unknown resource", resourceQuotaStrategy{}, &corev1.ResourceQuota{ObjectMeta: rtMeta("q"), Spec: corev1.ResourceQuotaSpec{
			Hard: corev1.ResourceList{"pods": resource.MustParse("-1")}}}, []rtErr{{field.ErrorTypeInvalid, "spec.hard[pods]"}}},
		{"limitrange min above max", limitRangeStrategy{}, &corev1.LimitRange{ObjectMeta: rtMeta("l"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypePod, Min: corev1.ResourceList{"cpu": resource.MustParse("2")}, Max: corev1.ResourceList{"cpu": resource.MustParse("1")}}}}},
			[]rtErr{{field.ErrorTypeInvalid, "spec.limits[0].min[cpu]"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := rtCreate(tt.strategy, tt.obj)
			if diff := cmp.Diff(tt.want, rtErrs(errs)); diff != "" {
				t.Errorf("(-want +got):\n%s\n%v", diff, errs)
			}
		})
	}
}

func TestKindImmutability(t *testing.T) {
	tests := []struct {
		name     string
		strategy Strategy
		old      runtime.Object
		mutate   func(runtime.Object)
		sub      string
		want     []rtErr
		message  string
	}{
		{"immutable configmap data", configMapStrategy{}, &corev1.ConfigMap{ObjectMeta: rtMeta("c"), Immutable: ptr.To(true), Data: map[string]string{"k": "v"}},
			func(o runtime.Object) { o.(*corev1.ConfigMap).Data["k"] = "w" }, "", []rtErr{{field.ErrorTypeForbidden, "data"}}, ""},
		{"secret type", secretStrategy{}, &corev1.Secret{ObjectMeta: rtMeta("s"), Type: corev1.SecretTypeOpaque},
			func(o runtime.Object) { o.(*corev1.Secret).Type = "example.com/other" }, "", []rtErr{{field.ErrorTypeInvalid, "type"}}, ""},
		{"roleRef", roleBindingStrategy{}, &rbacv1.RoleBinding{ObjectMeta: rtMeta("rb"), RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "a"}},
			func(o runtime.Object) { o.(*rbacv1.RoleBinding).RoleRef.Name = "b" }, "", []rtErr{{field.ErrorTypeInvalid, "roleRef"}},
			`roleRef: Invalid value: {"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"b"}: cannot change roleRef`},
		{"storageclass parameters", storageClassStrategy{}, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "sc", ResourceVersion: "1"}, Provisioner: "p.io/x",
			ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimDelete), VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)},
			func(o runtime.Object) { o.(*storagev1.StorageClass).Parameters = map[string]string{"a": "b"} }, "", []rtErr{{field.ErrorTypeForbidden, "parameters"}}, ""},
		{"priority value", priorityClassStrategy{}, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "p", ResourceVersion: "1"}, Value: 1, PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority)},
			func(o runtime.Object) { o.(*schedulingv1.PriorityClass).Value = 2 }, "", []rtErr{{field.ErrorTypeForbidden, "value"}}, ""},
		{"node podCIDR", nodeStrategy{}, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", ResourceVersion: "1"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.0.0/24", PodCIDRs: []string{"10.244.0.0/24"}}},
			func(o runtime.Object) {
				n := o.(*corev1.Node)
				n.Spec.PodCIDR, n.Spec.PodCIDRs = "", []string{"10.244.1.0/24"}
			}, "", []rtErr{{field.ErrorTypeForbidden, "spec.podCIDRs"}}, ""},
		{"unbound pvc spec", pvcStrategy{}, rtPVC(),
			func(o runtime.Object) {
				o.(*corev1.PersistentVolumeClaim).Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
			},
			"", []rtErr{{field.ErrorTypeForbidden, "spec"}}, ""},
		{"bound pvc may grow", pvcStrategy{}, func() runtime.Object {
			p := rtPVC()
			p.Status.Phase = corev1.ClaimBound
			return p
		}(), func(o runtime.Object) {
			o.(*corev1.PersistentVolumeClaim).Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
		}, "", nil, ""},
		{"pv source", pvStrategy{}, rtPV(), func(o runtime.Object) { o.(*corev1.PersistentVolume).Spec.HostPath.Path = "/elsewhere" },
			"", []rtErr{{field.ErrorTypeForbidden, "spec.persistentvolumesource"}}, ""},
		{"ingressclass controller", ingressClassStrategy{}, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "ic", ResourceVersion: "1"}, Spec: networkingv1.IngressClassSpec{Controller: "skiff.io/ingress"}},
			func(o runtime.Object) { o.(*networkingv1.IngressClass).Spec.Controller = "other.io/x" }, "", []rtErr{{field.ErrorTypeInvalid, "spec.controller"}}, ""},
		{"node status write keeps spec", nodeStrategy{}, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", ResourceVersion: "1"}},
			func(o runtime.Object) { o.(*corev1.Node).Spec.Unschedulable = true }, "status", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.strategy.Default(tt.old)
			obj := tt.old.DeepCopyObject()
			tt.mutate(obj)
			errs := rtUpdate(tt.strategy, obj, tt.old, tt.sub)
			if diff := cmp.Diff(tt.want, rtErrs(errs)); diff != "" {
				t.Fatalf("(-want +got):\n%s\n%v", diff, errs)
			}
			if tt.message != "" && errs[0].Error() != tt.message {
				t.Errorf("message = %q, want %q", errs[0].Error(), tt.message)
			}
		})
	}
}

func TestNodeCreateKeepsStatus(t *testing.T) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{
		Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}}
	if errs := rtCreate(nodeStrategy{}, n); len(errs) != 0 {
		t.Fatal(errs)
	}
	q := n.Status.Allocatable[corev1.ResourceCPU]
	if q.String() != "2" {
		t.Errorf("allocatable = %v, want capacity", n.Status.Allocatable)
	}
	if got := (nodeStrategy{}).Fields(n)["spec.unschedulable"]; got != "false" {
		t.Errorf("spec.unschedulable = %q", got)
	}
}

func TestEventFields(t *testing.T) {
	ev := &corev1.Event{ObjectMeta: rtMeta("e"), Reason: "Started", Type: "Normal", ReportingController: "kubelet",
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p", Namespace: "default", UID: "u1", FieldPath: "spec.containers{c}"}}
	got := eventStrategy{}.Fields(ev)
	want := map[string]string{"metadata.name": "e", "metadata.namespace": "default", "involvedObject.kind": "Pod",
		"involvedObject.namespace": "default", "involvedObject.name": "p", "involvedObject.uid": "u1", "involvedObject.apiVersion": "",
		"involvedObject.resourceVersion": "", "involvedObject.fieldPath": "spec.containers{c}", "reason": "Started",
		"reportingComponent": "kubelet", "source": "kubelet", "type": "Normal",
		// events.k8s.io/v1's names for the same fields
		"regarding.kind": "Pod", "regarding.namespace": "default", "regarding.name": "p", "regarding.uid": "u1",
		"regarding.apiVersion": "", "regarding.resourceVersion": "", "regarding.fieldPath": "spec.containers{c}",
		"reportingController": "kubelet", "deprecatedSource": "kubelet"}
	if diff := cmp.Diff(want, map[string]string(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
