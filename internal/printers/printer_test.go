package printers

import (
	admissionv1 "k8s.io/api/admissionregistration/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// zeroObjects is an empty object of every kind skiff serves, by the kind the API
// server asks a printer for.
var zeroObjects = map[schema.GroupKind]func() runtime.Object{
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}: func() runtime.Object {
		return &admissionv1.MutatingWebhookConfiguration{}
	},
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}: func() runtime.Object {
		return &admissionv1.ValidatingWebhookConfiguration{}
	},
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}: func() runtime.Object {
		return &admissionv1.ValidatingAdmissionPolicy{}
	},
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicyBinding"}: func() runtime.Object {
		return &admissionv1.ValidatingAdmissionPolicyBinding{}
	},
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicy"}: func() runtime.Object {
		return &admissionv1.MutatingAdmissionPolicy{}
	},
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicyBinding"}: func() runtime.Object {
		return &admissionv1.MutatingAdmissionPolicyBinding{}
	},
	{Group: "apiregistration.k8s.io", Kind: "APIService"}: func() runtime.Object { return &apiregistrationv1.APIService{} },
	{Kind: "Pod"}:                   func() runtime.Object { return &corev1.Pod{} },
	{Kind: "PodTemplate"}:           func() runtime.Object { return &corev1.PodTemplate{} },
	{Kind: "Service"}:               func() runtime.Object { return &corev1.Service{} },
	{Kind: "Endpoints"}:             func() runtime.Object { return &corev1.Endpoints{} },
	{Kind: "ConfigMap"}:             func() runtime.Object { return &corev1.ConfigMap{} },
	{Kind: "Secret"}:                func() runtime.Object { return &corev1.Secret{} },
	{Kind: "ServiceAccount"}:        func() runtime.Object { return &corev1.ServiceAccount{} },
	{Kind: "Node"}:                  func() runtime.Object { return &corev1.Node{} },
	{Kind: "Namespace"}:             func() runtime.Object { return &corev1.Namespace{} },
	{Kind: "Event"}:                 func() runtime.Object { return &corev1.Event{} },
	{Kind: "PersistentVolume"}:      func() runtime.Object { return &corev1.PersistentVolume{} },
	{Kind: "PersistentVolumeClaim"}: func() runtime.Object { return &corev1.PersistentVolumeClaim{} },
	{Kind: "ReplicationController"}: func() runtime.Object { return &corev1.ReplicationController{} },
	{Kind: "ResourceQuota"}:         func() runtime.Object { return &corev1.ResourceQuota{} },
	{Kind: "LimitRange"}:            func() runtime.Object { return &corev1.LimitRange{} },

	{Group: "apps", Kind: "Deployment"}:         func() runtime.Object { return &appsv1.Deployment{} },
	{Group: "apps", Kind: "ReplicaSet"}:         func() runtime.Object { return &appsv1.ReplicaSet{} },
	{Group: "apps", Kind: "StatefulSet"}:        func() runtime.Object { return &appsv1.StatefulSet{} },
	{Group: "apps", Kind: "DaemonSet"}:          func() runtime.Object { return &appsv1.DaemonSet{} },
	{Group: "apps", Kind: "ControllerRevision"}: func() runtime.Object { return &appsv1.ControllerRevision{} },

	{Group: "batch", Kind: "Job"}:                           func() runtime.Object { return &batchv1.Job{} },
	{Group: "batch", Kind: "CronJob"}:                       func() runtime.Object { return &batchv1.CronJob{} },
	{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}: func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
	{Group: "policy", Kind: "PodDisruptionBudget"}:          func() runtime.Object { return &policyv1.PodDisruptionBudget{} },

	{Group: "networking.k8s.io", Kind: "Ingress"}:       func() runtime.Object { return &networkingv1.Ingress{} },
	{Group: "networking.k8s.io", Kind: "IngressClass"}:  func() runtime.Object { return &networkingv1.IngressClass{} },
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"}: func() runtime.Object { return &networkingv1.NetworkPolicy{} },
	{Group: "networking.k8s.io", Kind: "ServiceCIDR"}:   func() runtime.Object { return &networkingv1.ServiceCIDR{} },
	{Group: "networking.k8s.io", Kind: "IPAddress"}:     func() runtime.Object { return &networkingv1.IPAddress{} },

	{Group: rbacGroup, Kind: "Role"}:               func() runtime.Object { return &rbacv1.Role{} },
	{Group: rbacGroup, Kind: "ClusterRole"}:        func() runtime.Object { return &rbacv1.ClusterRole{} },
	{Group: rbacGroup, Kind: "RoleBinding"}:        func() runtime.Object { return &rbacv1.RoleBinding{} },
	{Group: rbacGroup, Kind: "ClusterRoleBinding"}: func() runtime.Object { return &rbacv1.ClusterRoleBinding{} },

	{Group: "storage.k8s.io", Kind: "StorageClass"}:          func() runtime.Object { return &storagev1.StorageClass{} },
	{Group: "storage.k8s.io", Kind: "VolumeAttributesClass"}: func() runtime.Object { return &storagev1.VolumeAttributesClass{} },
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}: func() runtime.Object {
		return &apiextensionsv1.CustomResourceDefinition{}
	},
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:         func() runtime.Object { return &schedulingv1.PriorityClass{} },
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "FlowSchema"}: func() runtime.Object { return &flowcontrolv1.FlowSchema{} },
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "PriorityLevelConfiguration"}: func() runtime.Object {
		return &flowcontrolv1.PriorityLevelConfiguration{}
	},
	{Group: "node.k8s.io", Kind: "RuntimeClass"}:  func() runtime.Object { return &nodev1.RuntimeClass{} },
	{Group: "coordination.k8s.io", Kind: "Lease"}: func() runtime.Object { return &coordinationv1.Lease{} },
	{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}: func() runtime.Object {
		return &certificatesv1.CertificateSigningRequest{}
	},
	{Group: "certificates.k8s.io", Kind: "PodCertificateRequest"}: func() runtime.Object {
		return &certificatesv1.PodCertificateRequest{}
	},
	{Group: "discovery.k8s.io", Kind: "EndpointSlice"}: func() runtime.Object { return &discoveryv1.EndpointSlice{} },
	{Group: "events.k8s.io", Kind: "Event"}:            func() runtime.Object { return &corev1.Event{} },
}

// TestEveryKindHasAZeroObject keeps zeroObjects and the registry in step, so a new
// printer cannot escape TestZeroObjects.
func TestEveryKindHasAZeroObject(t *testing.T) {
	var registered, listed []string
	for gk := range registry {
		registered = append(registered, gk.String())
	}
	for gk := range zeroObjects {
		listed = append(listed, gk.String())
	}
	sort.Strings(registered)
	sort.Strings(listed)
	if diff := cmp.Diff(listed, registered); diff != "" {
		t.Errorf("registered kinds (-zeroObjects +registry):\n%s", diff)
	}
}

func TestZeroObjects(t *testing.T) {
	for gk, zero := range zeroObjects {
		t.Run(gk.String(), func(t *testing.T) {
			p := For(gk)
			if p == nil {
				t.Fatalf("For(%v) = nil", gk)
			}
			row, err := p.Row(zero(), now)
			if err != nil {
				t.Fatal(err)
			}
			if len(row) != len(p.Columns) {
				t.Errorf("%d cells for %d columns: %#v", len(row), len(p.Columns), row)
			}
		})
	}
}

// TestColumns checks what kubectl relies on: a NAME column formatted as a name
// (first, except for events), known cell types, and cells of the declared type.
func TestColumns(t *testing.T) {
	for gk, p := range registry {
		t.Run(gk.String(), func(t *testing.T) {
			names := map[string]bool{}
			nameAt := -1
			for i, c := range p.Columns {
				if names[c.Name] {
					t.Errorf("column %q twice", c.Name)
				}
				names[c.Name] = true
				switch c.Type {
				case typeString, typeInteger, typeBoolean, typeDate:
				default:
					t.Errorf("column %q has type %q", c.Name, c.Type)
				}
				if c.Priority != 0 && c.Priority != 1 {
					t.Errorf("column %q has priority %d", c.Name, c.Priority)
				}
				if c.Format == "name" {
					nameAt = i
				}
				if c.Description == "" {
					t.Errorf("column %q has no description", c.Name)
				}
			}
			want := 0
			if gk.Kind == "Event" {
				want = len(p.Columns) - 1
			}
			if nameAt != want || p.Columns[nameAt].Name != "Name" || p.Columns[nameAt].Type != typeString {
				t.Errorf("NAME column at %d, want %d: %+v", nameAt, want, p.Columns)
			}

			row, err := p.Row(zeroObjects[gk](), now)
			if err != nil {
				t.Fatal(err)
			}
			for i, cell := range row {
				switch cell.(type) {
				case string, int64, bool:
				default:
					t.Errorf("cell %d (%s) is a %T; kubectl formats string, int64 and bool", i, p.Columns[i].Name, cell)
				}
				if _, isInt := cell.(int64); p.Columns[i].Type == typeInteger && !isInt {
					t.Errorf("integer column %s holds a %T", p.Columns[i].Name, cell)
				}
			}
		})
	}
}

func TestDefault(t *testing.T) {
	p := Default()
	got := []string{}
	for _, c := range p.Columns {
		got = append(got, c.Name)
	}
	if diff := cmp.Diff([]string{"Name", "Age"}, got); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	// A custom resource arrives unstructured.
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("example.com/v1")
	u.SetKind("Widget")
	u.SetName("w1")
	u.SetCreationTimestamp(ago(3 * time.Hour))
	row, err := p.Row(u, now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]interface{}{"w1", "3h"}, row); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	if For(schema.GroupKind{Group: "example.com", Kind: "Widget"}) != nil {
		t.Error("For(unknown kind) is not nil")
	}
}

func TestCreatedAt(t *testing.T) {
	p := For(schema.GroupKind{Group: rbacGroup, Kind: "ClusterRole"})
	created := metav1.NewTime(time.Date(2026, 11, 20, 9, 30, 0, 0, time.FixedZone("CET", 3600)))
	row, err := p.Row(&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "view", CreationTimestamp: created}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]interface{}{"view", "2026-11-20T08:30:00Z"}, row); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	if got := p.Columns[1]; got.Name != "Created At" || got.Type != typeDate {
		t.Errorf("second column = %+v, want Created At of type date", got)
	}
}

// TestUnstructured shows that a typed printer accepts the same object in its
// unstructured form and prints the same row.
func TestUnstructured(t *testing.T) {
	d := deployment()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
	if err != nil {
		t.Fatal(err)
	}
	p := For(schema.GroupKind{Group: "apps", Kind: "Deployment"})
	want, err := p.Row(d, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Row(&unstructured.Unstructured{Object: m}, now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("row (-typed +unstructured):\n%s", diff)
	}
}

func TestWrongObject(t *testing.T) {
	tests := []struct {
		name string
		gk   schema.GroupKind
		obj  runtime.Object
	}{
		{"another kind", schema.GroupKind{Kind: "Pod"}, &corev1.Service{}},
		{"typed nil", schema.GroupKind{Kind: "Pod"}, (*corev1.Pod)(nil)},
		{"nil", schema.GroupKind{Kind: "Pod"}, nil},
		{"typed nil, generic printer", schema.GroupKind{Group: rbacGroup, Kind: "Role"}, (*rbacv1.Role)(nil)},
		{"no metadata, generic printer", schema.GroupKind{Group: rbacGroup, Kind: "Role"}, &metav1.Status{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row, err := For(tt.gk).Row(tt.obj, now)
			if err == nil {
				t.Fatalf("Row(%T) = %v, want an error", tt.obj, row)
			}
			if !strings.HasPrefix(err.Error(), "printers: ") {
				t.Errorf("error %q does not say where it comes from", err)
			}
		})
	}
	if _, err := Default().Row(nil, now); err == nil {
		t.Error("Default().Row(nil) did not fail")
	}
}

// TestEventsAPIEvent prints an events.k8s.io/v1 Event like the core/v1 one it mirrors.
func TestEventsAPIEvent(t *testing.T) {
	ev := &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "web.1", Namespace: "default"},
		EventTime:           metav1.NewMicroTime(now.Add(-4 * time.Minute)),
		Series:              &eventsv1.EventSeries{Count: 5, LastObservedTime: metav1.NewMicroTime(now.Add(-20 * time.Second))},
		ReportingController: "skiff/kubelet",
		ReportingInstance:   "node-1",
		Reason:              "BackOff",
		Regarding:           corev1.ObjectReference{Kind: "Pod", Name: "web", FieldPath: "spec.containers{app}"},
		Note:                "Back-off restarting failed container",
		Type:                corev1.EventTypeWarning,
	}
	want := []interface{}{"20s", "Warning", "BackOff", "pod/web", "spec.containers{app}", "skiff/kubelet, node-1",
		"Back-off restarting failed container", "4m", int64(5), "web.1"}
	for _, group := range []string{"", "events.k8s.io"} {
		row, err := For(schema.GroupKind{Group: group, Kind: "Event"}).Row(ev, now)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, row); diff != "" {
			t.Errorf("group %q: row (-want +got):\n%s", group, diff)
		}
	}
}
