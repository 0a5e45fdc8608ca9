// Package ha_test runs a three-server control plane on one machine (loopback, a
// data dir and ports per server, no agents) and takes it apart the way the seeds'
// failure table does: a server killed, etcd members lost, a leader killed, bad
// joins.
package ha_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"skiff/test/e2e/framework"
)

// server is one member of the control plane.
type server struct {
	*framework.Cluster
	Name      string
	Port      int // API
	PeerPort  int
	Client    kubernetes.Interface
	joinFlags []string
}

var servers []*server

// baseDir holds the servers' data dirs and logs.
var baseDir string

// serviceCIDR is small on purpose: three servers racing for 30 addresses collide
// unless allocations are shared. It must not overlap the node package's range
// (10.96.0.0/16): packages run at once in the host's network namespace, and the
// other cluster's rules for its DNS address (10.96.0.10) would answer this one's pods.
const serviceCIDR = "10.97.0.0/27"

func TestMain(m *testing.M) {
	if _, err := os.Stat(framework.Kubectl); err != nil {
		if framework.InCI() {
			fmt.Fprintln(os.Stderr, "e2e: /usr/bin/kubectl is missing")
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "e2e: skipping, /usr/bin/kubectl is missing")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "skiff-e2e-ha-")
	baseDir = dir
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := startServers(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		stopServers()
		os.Exit(1)
	}
	code := m.Run()
	stopAgents()
	stopServers()
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintf(os.Stderr, "e2e: server logs kept in %s\n", dir)
	}
	os.Exit(code)
}

// startServers starts s1, then s2 joining s1 and s3 joining s2.
func startServers(dir string) error {
	for i := 1; i <= 3; i++ {
		s := &server{Name: "s" + strconv.Itoa(i), Port: freePort(), PeerPort: freePort()}
		if i > 1 {
			token, err := os.ReadFile(filepath.Join(servers[0].Dir, "server-join-token"))
			if err != nil {
				return err
			}
			s.joinFlags = []string{"--server", servers[i-2].URL(), "--token", strings.TrimSpace(string(token))}
		}
		if err := os.MkdirAll(filepath.Join(dir, s.Name), 0o700); err != nil {
			return err
		}
		c, err := framework.StartServer(filepath.Join(dir, s.Name), s.args()...)
		if err != nil {
			return fmt.Errorf("start %s: %w", s.Name, err)
		}
		s.Cluster = c
		rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
		if err != nil {
			return err
		}
		rc.QPS, rc.Burst = 500, 1000
		if s.Client, err = kubernetes.NewForConfig(rc); err != nil {
			return err
		}
		servers = append(servers, s)
	}
	return nil
}

func (s *server) args() []string {
	// All addresses: the kubernetes Service's endpoints name only addresses pods
	// could reach, so a loopback-only server would publish none.
	return append([]string{"--disable-agent", "--bind-address", "0.0.0.0", "--https-port", strconv.Itoa(s.Port),
		"--etcd-peer-port", strconv.Itoa(s.PeerPort), "--node-name", s.Name, "--service-cidr", serviceCIDR,
		"--etcd-snapshot-interval", "0"}, s.joinFlags...)
}

// URL is the server's API address.
func (s *server) URL() string { return "https://127.0.0.1:" + strconv.Itoa(s.Port) }

// endpointPorts are the ports the kubernetes Service's Endpoints list, one per
// live server (they share the host's address here).
func endpointPorts(s *server) (string, error) {
	out, err := s.Kubectl("get", "endpoints", "kubernetes", "-o", "jsonpath={range .subsets[*]}{.ports[0].port} {end}")
	return strings.TrimSpace(out), err
}

// wantEndpoints is endpointPorts' answer for these servers.
func wantEndpoints(live ...*server) string {
	var ports []int
	for _, s := range live {
		ports = append(ports, s.Port)
	}
	slices.Sort(ports)
	return strings.Trim(fmt.Sprint(ports), "[]")
}

// kill ends the server as a crash would (SIGKILL to its process group).
func (s *server) kill() { _ = syscall.Kill(-s.PID(), syscall.SIGKILL) }

// revive starts a killed server again on its data dir and ports.
func (s *server) revive() error { return s.Restart(true, s.args()...) }

func stopServers() {
	for _, s := range servers {
		s.Stop()
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
