package auth

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func nodeUser(n string) *User {
	return &User{Name: NodeUserPrefix + n, Groups: []string{Nodes, Authenticated}}
}

func podOn(ns, name, node string, vols ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{NodeName: node, Volumes: vols, ServiceAccountName: "runner",
			Containers: []corev1.Container{{Name: "c", EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "env"}}}}}}}}
}

func secretVolume(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name}}}
}

func claimVolume(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}}
}

func TestNodeAuthorizer(t *testing.T) {
	pods := NewPodIndex()
	pods.Set(podOn("app", "web", "n1", secretVolume("tls"), claimVolume("data")))
	pods.Set(podOn("app", "db", "n2", secretVolume("dbpass")))
	z := NodeAuthorizer{Pods: pods, Claim: func(ns, name string) (*corev1.PersistentVolumeClaim, bool) {
		return &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-" + name}}, ns == "app"
	}, Pinned: func(volume, node string) bool { return volume == "pv-made-here" && node == "n1" }}
	for _, tc := range []struct {
		name string
		a    Attributes
		want bool
	}{
		{"own pod's secret", Attributes{User: nodeUser("n1"), Verb: "get", Resource: "secrets", Namespace: "app", Name: "tls"}, true},
		{"watch of own pod's secret by name", Attributes{User: nodeUser("n1"), Verb: "watch", Resource: "secrets", Namespace: "app", Name: "tls"}, true},
		{"another node's pod's secret", Attributes{User: nodeUser("n1"), Verb: "get", Resource: "secrets", Namespace: "app", Name: "dbpass"}, false},
		{"same name in another namespace", Attributes{User: nodeUser("n1"), Verb: "get", Resource: "secrets", Namespace: "other", Name: "tls"}, false},
		{"list all secrets", Attributes{User: nodeUser("n1"), Verb: "list", Resource: "secrets"}, false},
		{"list TLS secrets (ingress)", Attributes{User: nodeUser("n1"), Verb: "list", Resource: "secrets", FieldSelector: "type=kubernetes.io/tls"}, true},
		{"update own pod's secret", Attributes{User: nodeUser("n1"), Verb: "update", Resource: "secrets", Namespace: "app", Name: "tls"}, false},
		{"configmap from envFrom", Attributes{User: nodeUser("n1"), Verb: "get", Resource: "configmaps", Namespace: "app", Name: "env"}, true},
		{"claim", Attributes{User: nodeUser("n1"), Verb: "get", Resource: "persistentvolumeclaims", Namespace: "app", Name: "data"}, true},
		{"volume behind claim", Attributes{User: nodeUser("n1"), Verb: "get", Resource: "persistentvolumes", Name: "pv-data"}, true},
		{"list all claims (local-path provisioner)", Attributes{User: nodeUser("n1"), Verb: "list", Resource: "persistentvolumeclaims"}, true},
		{"update another claim", Attributes{User: nodeUser("n1"), Verb: "update", Resource: "persistentvolumeclaims", Namespace: "app", Name: "x"}, false},
		{"other volume", Attributes{User: nodeUser("n1"), Verb: "get", Resource: "persistentvolumes", Name: "pv-x"}, false},
		{"status of own pod's claim (node expansion)", Attributes{User: nodeUser("n1"), Verb: "update", Resource: "persistentvolumeclaims", Subresource: "status", Namespace: "app", Name: "data"}, true},
		{"status of a claim of its own volume (resizer)", Attributes{User: nodeUser("n1"), Verb: "patch", Resource: "persistentvolumeclaims", Subresource: "status", Namespace: "app", Name: "made-here"}, true},
		{"status of another claim", Attributes{User: nodeUser("n1"), Verb: "update", Resource: "persistentvolumeclaims", Subresource: "status", Namespace: "app", Name: "x"}, false},
		{"status of another node's volume's claim", Attributes{User: nodeUser("n2"), Verb: "update", Resource: "persistentvolumeclaims", Subresource: "status", Namespace: "app", Name: "made-here"}, false},
		{"snapshot contents (snapshotter)", Attributes{User: nodeUser("n1"), Verb: "create", APIGroup: "snapshot.storage.k8s.io", Resource: "volumesnapshotcontents"}, true},
		{"delete a snapshot", Attributes{User: nodeUser("n1"), Verb: "delete", APIGroup: "snapshot.storage.k8s.io", Resource: "volumesnapshots", Namespace: "app", Name: "s"}, false},
		{"token for pod's SA", Attributes{User: nodeUser("n1"), Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: "app", Name: "runner"}, true},
		{"token for another SA", Attributes{User: nodeUser("n1"), Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: "kube-system", Name: "runner"}, false},
		{"own pod's service account", Attributes{User: nodeUser("n1"), Verb: "get", Resource: "serviceaccounts", Namespace: "app", Name: "runner"}, true},
		{"another namespace's service account", Attributes{User: nodeUser("n1"), Verb: "get", Resource: "serviceaccounts", Namespace: "kube-system", Name: "runner"}, false},
		{"list service accounts", Attributes{User: nodeUser("n1"), Verb: "list", Resource: "serviceaccounts", Namespace: "app"}, false},
		{"file a pod certificate request", Attributes{User: nodeUser("n1"), Verb: "create", APIGroup: "certificates.k8s.io", Resource: "podcertificaterequests", Namespace: "app"}, true},
		{"watch own pod certificate requests", Attributes{User: nodeUser("n1"), Verb: "watch", APIGroup: "certificates.k8s.io", Resource: "podcertificaterequests", FieldSelector: "spec.nodeName=n1"}, true},
		{"watch another node's pod certificate requests", Attributes{User: nodeUser("n1"), Verb: "watch", APIGroup: "certificates.k8s.io", Resource: "podcertificaterequests", FieldSelector: "spec.nodeName=n2"}, false},
		{"list every pod certificate request", Attributes{User: nodeUser("n1"), Verb: "list", APIGroup: "certificates.k8s.io", Resource: "podcertificaterequests"}, false},
		{"sign a pod certificate request", Attributes{User: nodeUser("n1"), Verb: "update", APIGroup: "certificates.k8s.io", Resource: "podcertificaterequests", Subresource: "status", Namespace: "app", Name: "req-1"}, false},
		{"own pod's status", Attributes{User: nodeUser("n1"), Verb: "update", Resource: "pods", Subresource: "status", Namespace: "app", Name: "web"}, true},
		{"other pod's status", Attributes{User: nodeUser("n1"), Verb: "update", Resource: "pods", Subresource: "status", Namespace: "app", Name: "db"}, false},
		{"node status", Attributes{User: nodeUser("n1"), Verb: "patch", Resource: "nodes", Subresource: "status", Name: "n1"}, true},
		{"lease", Attributes{User: nodeUser("n1"), Verb: "update", APIGroup: "coordination.k8s.io", Resource: "leases", Namespace: "kube-node-lease", Name: "n1"}, true},
		{"cluster role bindings", Attributes{User: nodeUser("n1"), Verb: "create", APIGroup: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}, false},
		{"deployments", Attributes{User: nodeUser("n1"), Verb: "list", APIGroup: "apps", Resource: "deployments"}, false},
		{"own DNS slice", Attributes{User: nodeUser("n1"), Verb: "update", APIGroup: "discovery.k8s.io", Resource: "endpointslices", Namespace: "kube-system", Name: "kube-dns-n1"}, true},
		{"another node's DNS slice", Attributes{User: nodeUser("n1"), Verb: "delete", APIGroup: "discovery.k8s.io", Resource: "endpointslices", Namespace: "kube-system", Name: "kube-dns-n2"}, false},
		{"not a node: no group", Attributes{User: &User{Name: "system:node:n1"}, Verb: "get", Resource: "secrets", Namespace: "app", Name: "tls"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, why := z.Authorize(context.Background(), tc.a); got != tc.want {
				t.Fatalf("allowed = %v (%s), want %v", got, why, tc.want)
			}
		})
	}
	// A pod that moves away (deleted) takes its grants with it.
	pods.Delete("app", "web")
	if ok, _ := z.Authorize(context.Background(), Attributes{User: nodeUser("n1"), Verb: "get", Resource: "secrets", Namespace: "app", Name: "tls"}); ok {
		t.Fatal("secret of a deleted pod still readable")
	}
}

// BenchmarkNodeAuthorizerSecret decides a node's secret read in a cluster of 5,000
// nodes and 150,000 pods (30 per node), for a secret its pods use and one they do not.
// It also reports the index's heap bytes per pod.
func BenchmarkNodeAuthorizerSecret(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	pods := NewPodIndex()
	for i := 0; i < 150000; i++ {
		pods.Set(podOn(fmt.Sprintf("ns%d", i%100), fmt.Sprintf("p%d", i), fmt.Sprintf("n%d", i%5000), secretVolume(fmt.Sprintf("s%d", i))))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	z := NodeAuthorizer{Pods: pods}
	used := Attributes{User: nodeUser("n42"), Verb: "get", Resource: "secrets", Namespace: "ns42", Name: "s145042"}
	unused := Attributes{User: nodeUser("n42"), Verb: "get", Resource: "secrets", Namespace: "ns42", Name: "s43"}
	if ok, _ := z.Authorize(context.Background(), used); !ok {
		b.Fatal("used secret refused")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ok, _ := z.Authorize(context.Background(), used); !ok {
			b.Fatal("used secret refused")
		}
		if ok, _ := z.Authorize(context.Background(), unused); ok {
			b.Fatal("unused secret allowed")
		}
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/150000, "index-B/pod")
}
