package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// rtErr is one validation error reduced to what a kubectl user sees first.
type rtErr struct {
	Type  field.ErrorType
	Field string
}

func rtErrs(errs field.ErrorList) []rtErr {
	var out []rtErr
	for _, e := range errs {
		out = append(out, rtErr{e.Type, e.Field})
	}
	return out
}

// rtCreate runs the create path of the API server: Default, PrepareForCreate, Validate.
func rtCreate(s Strategy, obj runtime.Object) field.ErrorList {
	s.Default(obj)
	s.PrepareForCreate(obj)
	return s.Validate(obj, nil)
}

// rtUpdate runs the update path for the main resource or a subresource.
func rtUpdate(s Strategy, obj, old runtime.Object, sub string) field.ErrorList {
	s.Default(obj)
	s.PrepareForUpdate(obj, old, sub)
	return s.Validate(obj, old)
}

var rtCmpOpts = cmp.Options{cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })}

func rtMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", ResourceVersion: "7"}
}

func rtSvc(typ corev1.ServiceType, ports ...int32) *corev1.Service {
	s := &corev1.Service{ObjectMeta: rtMeta("web"), Spec: corev1.ServiceSpec{Type: typ, Selector: map[string]string{"app": "web"}}}
	for _, p := range ports {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: p})
	}
	return s
}

func TestServiceDefaults(t *testing.T) {
	port := corev1.ServicePort{Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(80)}
	single := ptr.To(corev1.IPFamilyPolicySingleStack)
	v4 := []corev1.IPFamily{corev1.IPv4Protocol}
	cluster := ptr.To(corev1.ServiceInternalTrafficPolicyCluster)
	sel := map[string]string{"app": "web"}
	tests := []struct {
		name string
		in   *corev1.Service
		want corev1.ServiceSpec
	}{
		{"ClusterIP", rtSvc("", 80), corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: []corev1.ServicePort{port}, Selector: sel,
			SessionAffinity: corev1.ServiceAffinityNone, IPFamilies: v4, IPFamilyPolicy: single, InternalTrafficPolicy: cluster}},
		{"NodePort", rtSvc(corev1.ServiceTypeNodePort, 80), corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{port}, Selector: sel,
			SessionAffinity: corev1.ServiceAffinityNone, IPFamilies: v4, IPFamilyPolicy: single, InternalTrafficPolicy: cluster,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster}},
		{"LoadBalancer", rtSvc(corev1.ServiceTypeLoadBalancer, 80), corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{port}, Selector: sel,
			SessionAffinity: corev1.ServiceAffinityNone, IPFamilies: v4, IPFamilyPolicy: single, InternalTrafficPolicy: cluster,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster, AllocateLoadBalancerNodePorts: ptr.To(true)}},
		{"ExternalName", func() *corev1.Service {
			s := rtSvc(corev1.ServiceTypeExternalName)
			s.Spec.ExternalName = "db.example.com"
			return s
		}(), corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com", Selector: sel, SessionAffinity: corev1.ServiceAffinityNone}},
		{"ClientIP affinity", func() *corev1.Service {
			s := rtSvc("", 80)
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			return s
		}(), corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: []corev1.ServicePort{port}, Selector: sel,
			SessionAffinity:       corev1.ServiceAffinityClientIP,
			SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](10800)}},
			IPFamilies:            v4, IPFamilyPolicy: single, InternalTrafficPolicy: cluster}},
		{"headless without selector is dual-stack", func() *corev1.Service {
			s := rtSvc("")
			s.Spec.Selector = nil
			s.Spec.ClusterIP = corev1.ClusterIPNone
			return s
		}(), corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "None", ClusterIPs: []string{"None"},
			SessionAffinity: corev1.ServiceAffinityNone, IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol},
			IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicyRequireDualStack), InternalTrafficPolicy: cluster}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if errs := rtCreate(serviceStrategy{}, tt.in); len(errs) != 0 {
				t.Fatalf("unexpected errors: %v", errs)
			}
			if diff := cmp.Diff(tt.want, tt.in.Spec); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServiceValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Service)
		want   []rtErr
		detail string
	}{
		{"no ports", func(s *corev1.Service) { s.Spec.Ports = nil }, []rtErr{{field.ErrorTypeRequired, "spec.ports"}}, ""},
		{"two unnamed ports", func(s *corev1.Service) { s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: 81}) },
			[]rtErr{{field.ErrorTypeRequired, "spec.ports[0].name"}, {field.ErrorTypeRequired, "spec.ports[1].name"}}, ""},
		{"duplicate port names", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "http", Port: 81}}
		}, []rtErr{{field.ErrorTypeDuplicate, "spec.ports[1].name"}}, ""},
		{"port out of range", func(s *corev1.Service) {
			s.Spec.Ports[0].Port, s.Spec.Ports[0].TargetPort = 70000, intstr.FromInt32(80)
		},
			[]rtErr{{field.ErrorTypeInvalid, "spec.ports[0].port"}}, "must be between 1 and 65535, inclusive"},
		{"malformed clusterIP", func(s *corev1.Service) { s.Spec.ClusterIP = "10.0.0.300" },
			[]rtErr{{field.ErrorTypeInvalid, "spec.clusterIPs[0]"}}, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"},
		{"nodePort outside range", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 80
		}, []rtErr{{field.ErrorTypeInvalid, "spec.ports[0].nodePort"}}, "provided port is not in the valid range. The range of valid ports is 30000-32767"},
		{"nodePort on ClusterIP", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 },
			[]rtErr{{field.ErrorTypeForbidden, "spec.ports[0].nodePort"}}, ""},
		{"ExternalName without name", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName },
			[]rtErr{{field.ErrorTypeRequired, "spec.externalName"}}, ""},
		{"ExternalName not a DNS name", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = "not_a_name"
		}, []rtErr{{field.ErrorTypeInvalid, "spec.externalName"}}, ""},
		{"bad selector", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "a b"} },
			[]rtErr{{field.ErrorTypeInvalid, "spec.selector"}}, ""},
		{"name not DNS-1035", func(s *corev1.Service) { s.Name = "1web" },
			[]rtErr{{field.ErrorTypeInvalid, "metadata.name"}}, ""},
		{"unknown protocol", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "ICMP" },
			[]rtErr{{field.ErrorTypeNotSupported, "spec.ports[0].protocol"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := rtSvc("", 80)
			tt.mutate(s)
			errs := rtCreate(serviceStrategy{}, s)
			if diff := cmp.Diff(tt.want, rtErrs(errs)); diff != "" {
				t.Fatalf("errors (-want +got):\n%s\n%v", diff, errs)
			}
			if tt.detail != "" && errs[0].Detail != tt.detail {
				t.Errorf("detail = %q, want %q", errs[0].Detail, tt.detail)
			}
		})
	}
}

func TestServiceUpdate(t *testing.T) {
	stored := func(typ corev1.ServiceType) *corev1.Service {
		s := rtSvc(typ, 80)
		if typ == corev1.ServiceTypeExternalName {
			s.Spec.Ports, s.Spec.ExternalName = nil, "db.example.com"
		}
		rtCreate(serviceStrategy{}, s)
		if typ != corev1.ServiceTypeExternalName {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.10", []string{"10.96.0.10"}
		}
		if typ == corev1.ServiceTypeNodePort {
			s.Spec.Ports[0].NodePort = 30080
		}
		return s
	}
	t.Run("clusterIP may not change", func(t *testing.T) {
		old := stored(corev1.ServiceTypeClusterIP)
		s := old.DeepCopy()
		s.Spec.ClusterIP = "10.96.0.11"
		errs := rtUpdate(serviceStrategy{}, s, old, "")
		if diff := cmp.Diff([]rtErr{{field.ErrorTypeInvalid, "spec.clusterIPs[0]"}}, rtErrs(errs)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		if got, want := errs[0].Error(), `spec.clusterIPs[0]: Invalid value: ["10.96.0.11"]: may not change once set`; got != want {
			t.Errorf("message = %q, want %q", got, want)
		}
	})
	t.Run("omitted clusterIP and nodePort are kept", func(t *testing.T) {
		old := stored(corev1.ServiceTypeNodePort)
		s := rtSvc(corev1.ServiceTypeNodePort, 80)
		if errs := rtUpdate(serviceStrategy{}, s, old, ""); len(errs) != 0 {
			t.Fatal(errs)
		}
		if s.Spec.ClusterIP != "10.96.0.10" || s.Spec.Ports[0].NodePort != 30080 {
			t.Errorf("allocated values lost: %+v", s.Spec)
		}
	})
	t.Run("to ExternalName releases the address", func(t *testing.T) {
		old := stored(corev1.ServiceTypeClusterIP)
		s := old.DeepCopy()
		s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "db.example.com"
		if errs := rtUpdate(serviceStrategy{}, s, old, ""); len(errs) != 0 {
			t.Fatal(errs)
		}
		if s.Spec.ClusterIP != "" || s.Spec.ClusterIPs != nil || s.Spec.IPFamilies != nil {
			t.Errorf("addresses kept: %+v", s.Spec)
		}
	})
	t.Run("from ExternalName may take an address", func(t *testing.T) {
		old := stored(corev1.ServiceTypeExternalName)
		s := rtSvc(corev1.ServiceTypeClusterIP, 80)
		s.Spec.ClusterIP = "10.96.0.12"
		if errs := rtUpdate(serviceStrategy{}, s, old, ""); len(errs) != 0 {
			t.Fatal(errs)
		}
	})
	t.Run("status write keeps spec", func(t *testing.T) {
		old := stored(corev1.ServiceTypeLoadBalancer)
		s := old.DeepCopy()
		s.Spec.Selector = map[string]string{"app": "other"}
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}}
		if errs := rtUpdate(serviceStrategy{}, s, old, "status"); len(errs) != 0 {
			t.Fatal(errs)
		}
		if s.Spec.Selector["app"] != "web" || len(s.Status.LoadBalancer.Ingress) != 1 {
			t.Errorf("split not applied: %+v", s)
		}
	})
	t.Run("main write keeps status", func(t *testing.T) {
		old := stored(corev1.ServiceTypeLoadBalancer)
		old.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}}
		s := old.DeepCopy()
		s.Status = corev1.ServiceStatus{}
		rtUpdate(serviceStrategy{}, s, old, "")
		if len(s.Status.LoadBalancer.Ingress) != 1 {
			t.Errorf("status lost")
		}
	})
}

func TestServiceFields(t *testing.T) {
	s := rtSvc(corev1.ServiceTypeNodePort, 80)
	s.Spec.ClusterIP = "10.96.0.10"
	got := serviceStrategy{}.Fields(s)
	want := map[string]string{"metadata.name": "web", "metadata.namespace": "default", "spec.clusterIP": "10.96.0.10", "spec.type": "NodePort"}
	if diff := cmp.Diff(want, map[string]string(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
