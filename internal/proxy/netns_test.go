package proxy

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// This file holds the plumbing of the root-only tests: prerequisites, a bridge with
// pods (network namespaces) on it, and helper processes run inside those pods.

// requireNetAdmin skips (or, under CI, fails) when the test cannot build networks.
func requireNetAdmin(t testing.TB) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, bin := range []string{"nft", "ip", "conntrack"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("missing prerequisites %v (CI=true, so this is a failure)", missing)
	}
	t.Skipf("needs %v", missing)
}

func randomID(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// cleanupRun runs a teardown command, reporting but not stopping on failure.
func cleanupRun(t *testing.T, args ...string) {
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Logf("cleanup %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// keepSysctl restores a sysctl the proxy may change when the test ends.
func keepSysctl(t *testing.T, path string) {
	p := "/proc/sys/" + path
	old, err := os.ReadFile(p)
	if err != nil {
		return
	}
	t.Cleanup(func() { _ = os.WriteFile(p, old, 0o644) })
}

// testNet is a bridge on the host with pods attached: 10.213.<n>.1 is the host,
// pods are at addresses of their choosing. Services use 10.214.<n>.0/24, routed to the bridge so
// that nothing for them ever leaves the machine.
type testNet struct {
	id, bridge string
	subnet     string // "10.213.<n>", without the last octet
	svcNet     string // "10.214.<n>"
	pods       []string
}

func newTestNet(t *testing.T) *testNet {
	id := randomID(t, 3)
	n := int(id[0])%200 + 20
	tn := &testNet{id: id, bridge: "skpbr" + id, subnet: fmt.Sprintf("10.213.%d", n), svcNet: fmt.Sprintf("10.214.%d", n)}
	run(t, "ip", "link", "add", tn.bridge, "type", "bridge")
	t.Cleanup(func() { cleanupRun(t, "ip", "link", "del", tn.bridge) })
	run(t, "ip", "addr", "add", tn.subnet+".1/24", "dev", tn.bridge)
	run(t, "ip", "link", "set", tn.bridge, "up")
	run(t, "ip", "route", "add", tn.svcNet+".0/24", "dev", tn.bridge)
	return tn
}

// addPod creates a namespace with eth0 on the bridge, at .<octet> of the subnet,
// and returns its name and IP.
func (tn *testNet) addPod(t *testing.T, octet int) (string, string) {
	i := len(tn.pods)
	ns, veth, ip := fmt.Sprintf("skp-%s-%d", tn.id, i), fmt.Sprintf("skpv%s%d", tn.id, i), fmt.Sprintf("%s.%d", tn.subnet, octet)
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { cleanupRun(t, "ip", "netns", "del", ns) })
	run(t, "ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
	t.Cleanup(func() { cleanupRun(t, "ip", "link", "del", veth) })
	run(t, "ip", "link", "set", veth, "master", tn.bridge, "up")
	// Hairpin: with br_netfilter, a connection a pod makes to its own service is
	// DNATed while being bridged and must leave through the port it came in by.
	// The CNI bridge plugin does this with "hairpinMode": true.
	run(t, "ip", "link", "set", veth, "type", "bridge_slave", "hairpin", "on")
	run(t, "ip", "-n", ns, "addr", "add", ip+"/24", "dev", "eth0")
	run(t, "ip", "-n", ns, "link", "set", "eth0", "up")
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	run(t, "ip", "-n", ns, "route", "add", "default", "via", tn.subnet+".1")
	tn.pods = append(tn.pods, ns)
	return ns, ip
}

// helper runs this test binary inside ns as the helper named by role.
func helper(ctx context.Context, t *testing.T, ns, role string, env ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, exe, "-test.run=^TestHelper"+role+"$")
	cmd.Env = append(os.Environ(), append(env, "SKIFF_PROXY_HELPER="+role)...)
	return cmd
}

// startServer runs an HTTP server answering name on ip:8080 inside ns.
func startServer(t *testing.T, ns, ip, name string) {
	cmd := helper(context.Background(), t, ns, "Server", "HELPER_NAME="+name, "HELPER_ADDR="+ip+":8080")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ip+":8080", 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server %s never listened: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHelperServer is not a test: it is the server of a pod. Over HTTP it answers
// its name, or on /ip the client's address; over UDP on the same port, its name.
func TestHelperServer(t *testing.T) {
	if os.Getenv("SKIFF_PROXY_HELPER") != "Server" {
		t.Skip("helper process only")
	}
	name, addr := os.Getenv("HELPER_NAME"), os.Getenv("HELPER_ADDR")
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(name), from)
		}
	}()
	err = http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ip" {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			fmt.Fprint(w, host)
			return
		}
		fmt.Fprint(w, name)
	}))
	t.Fatal(err)
}

// TestHelperClient is not a test: it makes HELPER_COUNT requests to HELPER_URL from
// inside a pod and prints one line per answer.
func TestHelperClient(t *testing.T) {
	if os.Getenv("SKIFF_PROXY_HELPER") != "Client" {
		t.Skip("helper process only")
	}
	var n int
	fmt.Sscan(os.Getenv("HELPER_COUNT"), &n)
	for _, line := range get(os.Getenv("HELPER_URL"), n) {
		fmt.Println("ANSWER " + line)
	}
}

// get makes n requests on fresh connections; each answer is the body or "ERR ...".
func get(url string, n int) []string {
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var out []string
	for range n {
		resp, err := c.Get(url)
		if err != nil {
			out = append(out, "ERR "+err.Error())
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, string(b))
	}
	return out
}

// getFrom runs get inside ns.
func getFrom(t *testing.T, ns, url string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := helper(ctx, t, ns, "Client", "HELPER_URL="+url, fmt.Sprintf("HELPER_COUNT=%d", n))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("client in %s: %v: %s", ns, err, out)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), "ANSWER "); ok {
			lines = append(lines, l)
		}
	}
	return lines
}

// udpAsk sends a datagram from c to dst and returns the answer.
func udpAsk(c *net.UDPConn, dst string) (string, error) {
	addr, err := net.ResolveUDPAddr("udp", dst)
	if err != nil {
		return "", err
	}
	if _, err := c.WriteToUDP([]byte("?"), addr); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 1500)
	n, _, err := c.ReadFromUDP(buf)
	return string(buf[:n]), err
}

// tally counts answers by content.
func tally(answers []string) map[string]int {
	m := map[string]int{}
	for _, a := range answers {
		m[a]++
	}
	return m
}
