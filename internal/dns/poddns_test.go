package dns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const hostResolv = `# written by the host
nameserver 192.0.2.1
nameserver 192.0.2.2
search corp.example. lab.example
options edns0 timeout:2
`

func TestPodDNSConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte(hostResolv), 0o644); err != nil {
		t.Fatal(err)
	}
	clusterSearch := []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example", "lab.example"}
	tests := []struct {
		name       string
		policy     corev1.DNSPolicy
		hostNet    bool
		config     *corev1.PodDNSConfig
		clusterDNS string
		want       [3][]string // servers, searches, options
	}{
		{name: "unset policy is ClusterFirst", clusterDNS: "10.96.0.10",
			want: [3][]string{{"10.96.0.10"}, clusterSearch, {"ndots:5"}}},
		{name: "ClusterFirst", policy: corev1.DNSClusterFirst, clusterDNS: "10.96.0.10",
			want: [3][]string{{"10.96.0.10"}, clusterSearch, {"ndots:5"}}},
		{name: "ClusterFirst on hostNetwork uses the host", policy: corev1.DNSClusterFirst, hostNet: true, clusterDNS: "10.96.0.10",
			want: [3][]string{{"192.0.2.1", "192.0.2.2"}, {"corp.example", "lab.example"}, {"edns0", "timeout:2"}}},
		{name: "ClusterFirstWithHostNet on hostNetwork", policy: corev1.DNSClusterFirstWithHostNet, hostNet: true, clusterDNS: "10.96.0.10",
			want: [3][]string{{"10.96.0.10"}, clusterSearch, {"ndots:5"}}},
		{name: "ClusterFirstWithHostNet without hostNetwork", policy: corev1.DNSClusterFirstWithHostNet, clusterDNS: "10.96.0.10",
			want: [3][]string{{"10.96.0.10"}, clusterSearch, {"ndots:5"}}},
		{name: "ClusterFirst without cluster DNS falls back to the host", policy: corev1.DNSClusterFirst,
			want: [3][]string{{"192.0.2.1", "192.0.2.2"}, {"corp.example", "lab.example"}, {"edns0", "timeout:2"}}},
		{name: "Default", policy: corev1.DNSDefault, clusterDNS: "10.96.0.10",
			want: [3][]string{{"192.0.2.1", "192.0.2.2"}, {"corp.example", "lab.example"}, {"edns0", "timeout:2"}}},
		{name: "None with dnsConfig", policy: corev1.DNSNone, clusterDNS: "10.96.0.10",
			config: &corev1.PodDNSConfig{Nameservers: []string{"1.2.3.4"}, Searches: []string{"ns1.svc.cluster-domain.example", "my.dns.search.suffix"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "edns0"}}},
			want: [3][]string{{"1.2.3.4"}, {"ns1.svc.cluster-domain.example", "my.dns.search.suffix"}, {"ndots:2", "edns0"}}},
		{name: "None without dnsConfig is empty", policy: corev1.DNSNone, clusterDNS: "10.96.0.10"},
		{name: "ClusterFirst merges dnsConfig", policy: corev1.DNSClusterFirst, clusterDNS: "10.96.0.10",
			config: &corev1.PodDNSConfig{Nameservers: []string{"10.96.0.10", "1.1.1.1"}, Searches: []string{"cluster.local", "extra.example"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("1")}, {Name: "single-request"}}},
			want: [3][]string{{"10.96.0.10", "1.1.1.1"}, append(append([]string{}, clusterSearch...), "extra.example"), {"ndots:1", "single-request"}}},
		{name: "nameservers capped at three", policy: corev1.DNSDefault,
			config: &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "8.8.8.8"}},
			want:   [3][]string{{"192.0.2.1", "192.0.2.2", "1.1.1.1"}, {"corp.example", "lab.example"}, {"edns0", "timeout:2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "p"},
				Spec: corev1.PodSpec{DNSPolicy: tt.policy, HostNetwork: tt.hostNet, DNSConfig: tt.config}}
			s, q, o := PodDNSConfig(p, tt.clusterDNS, "cluster.local.", path)
			got := [3][]string{s, q, o}
			if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// cmpEmpty treats nil and empty lists alike: both mean "no such lines".
var cmpEmpty = cmp.Transformer("empty", func(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
})

func TestPodDNSConfigSearchLimits(t *testing.T) {
	var searches []string
	for i := range 40 {
		searches = append(searches, strings.Repeat("a", 60)+string(rune('a'+i%26)))
	}
	p := &corev1.Pod{Spec: corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{Searches: searches}}}
	_, got, _ := PodDNSConfig(p, "", "cluster.local", "")
	if len(got) > 32 || len(strings.Join(got, " ")) > 2048 {
		t.Errorf("search list of %d entries, %d chars: over the resolver limits", len(got), len(strings.Join(got, " ")))
	}
	if len(got) == 0 {
		t.Error("whole search list dropped; only the excess should go")
	}
}

func TestParseResolvConf(t *testing.T) {
	rc, err := parseResolvConf(strings.NewReader("domain first.example\nsearch a.example . b.example\nnameserver 10.0.0.1 ; comment\noptions ndots:2\noptions rotate\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := resolvConf{servers: []string{"10.0.0.1"}, searches: []string{"a.example", "b.example"}, options: []string{"ndots:2", "rotate"}}
	if diff := cmp.Diff(want, rc, cmp.AllowUnexported(resolvConf{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
