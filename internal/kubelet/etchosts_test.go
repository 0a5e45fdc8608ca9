package kubelet

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const loopbackHosts = managedHostsHeader + "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"

func TestManagedHosts(t *testing.T) {
	aliases := []corev1.HostAlias{{IP: "1.2.3.4", Hostnames: []string{"foo", "bar"}}, {IP: "::5", Hostnames: []string{"six"}}}
	for _, tc := range []struct {
		name string
		spec corev1.PodSpec
		ips  []string
		want string
	}{
		{"pod name", corev1.PodSpec{}, []string{"10.42.0.7"}, loopbackHosts + "10.42.0.7\tweb-0\n"},
		{"hostname and subdomain", corev1.PodSpec{Hostname: "db", Subdomain: "peers"}, []string{"10.42.0.7", "fd00::7"},
			loopbackHosts + "10.42.0.7\tdb.peers.shop.svc.cluster.local\tdb\nfd00::7\tdb.peers.shop.svc.cluster.local\tdb\n"},
		{"host aliases", corev1.PodSpec{HostAliases: aliases}, []string{"10.42.0.7"},
			loopbackHosts + "10.42.0.7\tweb-0\n\n# Entries added by HostAliases.\n1.2.3.4\tfoo\tbar\n::5\tsix\n"},
		{"no address yet", corev1.PodSpec{}, nil, loopbackHosts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop"}, Spec: tc.spec}
			if d := cmp.Diff(tc.want, string(managedHosts(pod, tc.ips, "cluster.local"))); d != "" {
				t.Errorf("hosts file (-want +got):\n%s", d)
			}
		})
	}
}

func TestNodeHosts(t *testing.T) {
	node := "127.0.0.1 localhost\n10.0.0.1 node-1"
	if got := string(nodeHosts([]byte(node), nil)); got != hostNetworkHostsHeader+node+"\n" {
		t.Errorf("without aliases got %q, want the node's file", got)
	}
	got := string(nodeHosts([]byte(node), []corev1.HostAlias{{IP: "1.2.3.4", Hostnames: []string{"foo"}}}))
	if want := hostNetworkHostsHeader + node + "\n\n# Entries added by HostAliases.\n1.2.3.4\tfoo\n"; got != want {
		t.Errorf("with aliases got %q, want %q", got, want)
	}
}

func TestPodHostname(t *testing.T) {
	long := "a-very-long-pod-name-that-goes-on-and-on-beyond-what-a-hostname-may.hold"
	for _, tc := range []struct{ name, hostname, want string }{
		{"web-0", "", "web-0"},
		{"web-0", "db", "db"},
		{long, "", "a-very-long-pod-name-that-goes-on-and-on-beyond-what-a-hostname"},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tc.name}, Spec: corev1.PodSpec{Hostname: tc.hostname}}
		if got := podHostname(pod); got != tc.want {
			t.Errorf("podHostname(%q, %q) = %q, want %q", tc.name, tc.hostname, got, tc.want)
		}
	}
}

func TestMountsEtcHosts(t *testing.T) {
	own := &corev1.Container{VolumeMounts: []corev1.VolumeMount{{Name: "h", MountPath: "/etc/hosts/"}}}
	other := &corev1.Container{VolumeMounts: []corev1.VolumeMount{{Name: "d", MountPath: "/etc"}}}
	if !mountsEtcHosts(own) || mountsEtcHosts(other) || mountsEtcHosts(&corev1.Container{}) {
		t.Errorf("mountsEtcHosts: own %v, /etc %v, none %v; want true, false, false",
			mountsEtcHosts(own), mountsEtcHosts(other), mountsEtcHosts(&corev1.Container{}))
	}
}
