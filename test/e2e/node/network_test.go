package node_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// echoDeployment runs replicas of the toolbox HTTP server behind a Service.
func echoDeployment(t *testing.T, n, name string, replicas int) {
	t.Helper()
	cluster.MustKubectl(t, "-n", n, "create", "deployment", name, "--image="+toolbox, fmt.Sprintf("--replicas=%d", replicas), "--", "/toolbox", "serve", "--port", "8080")
	framework.Eventually(t, 90*time.Second, func() error {
		got, _ := cluster.Kubectl("-n", n, "get", "deploy", name, "-o", "jsonpath={.status.readyReplicas}")
		if got != fmt.Sprint(replicas) {
			return fmt.Errorf("deployment %s ready = %q", name, got)
		}
		return nil
	})
}

// httpGet makes a request on a fresh connection, so each one is balanced anew.
func httpGet(url string) (string, error) {
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestServiceByDNSNameReachesEveryReplica: a pod reaches my-service by short name, by
// name.namespace and by FQDN, and repeated requests reach every replica.
func TestServiceByDNSNameReachesEveryReplica(t *testing.T) {
	n := ns(t, "svcdns")
	echoDeployment(t, n, "my-app", 2)
	cluster.MustKubectl(t, "-n", n, "expose", "deployment", "my-app", "--name=my-service", "--port=80", "--target-port=8080")
	script := "while true; do for h in my-service my-service." + n + " my-service." + n + ".svc.cluster.local; do " +
		"echo \"$h $(/toolbox wget -qO- -T 2 http://$h/hostname)\"; done; sleep 0.2; done"
	cluster.MustKubectl(t, "-n", n, "run", "client", "--image="+toolbox, "--", "sh", "-c", script)
	framework.Eventually(t, 60*time.Second, func() error {
		logs, _ := cluster.Kubectl("-n", n, "logs", "client")
		hosts := map[string]map[string]bool{}
		for _, l := range strings.Split(logs, "\n") {
			f := strings.Fields(l)
			if len(f) == 2 && strings.HasPrefix(f[1], "my-app-") {
				if hosts[f[0]] == nil {
					hosts[f[0]] = map[string]bool{}
				}
				hosts[f[0]][f[1]] = true
			}
		}
		for _, h := range []string{"my-service", "my-service." + n, "my-service." + n + ".svc.cluster.local"} {
			if len(hosts[h]) < 2 {
				return fmt.Errorf("%s reached replicas %v; want both (logs tail: %q)", h, hosts[h], tail(logs))
			}
		}
		return nil
	})
}

func tail(s string) string {
	if len(s) > 600 {
		return s[len(s)-600:]
	}
	return s
}

// TestNodePortAndLoadBalancer: a NodePort answers on the node address and on
// 127.0.0.1 from the host; a LoadBalancer gets an EXTERNAL-IP that answers.
func TestNodePortAndLoadBalancer(t *testing.T) {
	n := ns(t, "expose")
	echoDeployment(t, n, "web", 2)
	cluster.MustKubectl(t, "-n", n, "expose", "deployment", "web", "--name=web-np", "--type=NodePort", "--port=80", "--target-port=8080")
	port := strings.TrimSpace(cluster.MustKubectl(t, "-n", n, "get", "svc", "web-np", "-o", "jsonpath={.spec.ports[0].nodePort}"))
	nodeIP := strings.TrimSpace(cluster.MustKubectl(t, "get", "node", "e2e-main", "-o", `jsonpath={.status.addresses[?(@.type=="InternalIP")].address}`))
	for _, host := range []string{nodeIP, "127.0.0.1"} {
		framework.Eventually(t, 20*time.Second, func() error {
			body, err := httpGet("http://" + net.JoinHostPort(host, port) + "/hostname")
			if err != nil || !strings.HasPrefix(body, "web-") {
				return fmt.Errorf("NodePort on %s:%s: %q %v", host, port, body, err)
			}
			return nil
		})
	}
	cluster.MustKubectl(t, "-n", n, "expose", "deployment", "web", "--name=web-lb", "--type=LoadBalancer", "--port=80", "--target-port=8080")
	var lb string
	framework.Eventually(t, 30*time.Second, func() error {
		lb, _ = cluster.Kubectl("-n", n, "get", "svc", "web-lb", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
		if lb == "" {
			return fmt.Errorf("no EXTERNAL-IP yet")
		}
		return nil
	})
	if out := cluster.MustKubectl(t, "-n", n, "get", "svc", "web-lb"); !strings.Contains(out, lb) {
		t.Errorf("kubectl get svc does not show EXTERNAL-IP %s:\n%s", lb, out)
	}
	framework.Eventually(t, 20*time.Second, func() error {
		body, err := httpGet("http://" + lb + "/hostname")
		if err != nil || !strings.HasPrefix(body, "web-") {
			return fmt.Errorf("LoadBalancer %s: %q %v", lb, body, err)
		}
		return nil
	})
}

// TestServiceWithoutEndpointsRefuses: no ready endpoints means connection refused at
// once, not a hang.
func TestServiceWithoutEndpointsRefuses(t *testing.T) {
	n := ns(t, "empty")
	cluster.MustKubectl(t, "-n", n, "create", "service", "clusterip", "nobody", "--tcp=80:8080")
	ip := strings.TrimSpace(cluster.MustKubectl(t, "-n", n, "get", "svc", "nobody", "-o", "jsonpath={.spec.clusterIP}"))
	framework.Eventually(t, 20*time.Second, func() error {
		start := time.Now()
		conn, err := net.DialTimeout("tcp", ip+":80", 3*time.Second)
		if err == nil {
			conn.Close()
			return fmt.Errorf("connected to a service with no endpoints")
		}
		if d := time.Since(start); d > time.Second || !strings.Contains(err.Error(), "refused") {
			return fmt.Errorf("dial took %s: %v; want connection refused at once", d, err)
		}
		return nil
	})
}

// TestHeadlessAndExternalNameDNS: a headless service resolves to its pods' IPs, an
// ExternalName to a CNAME.
func TestHeadlessAndExternalNameDNS(t *testing.T) {
	n := ns(t, "dnsrec")
	echoDeployment(t, n, "db", 2)
	cluster.MustKubectl(t, "-n", n, "create", "service", "clusterip", "db-headless", "--clusterip=None", "--tcp=8080:8080")
	cluster.MustKubectl(t, "-n", n, "patch", "svc", "db-headless", "-p", `{"spec":{"selector":{"app":"db"}}}`)
	cluster.MustKubectl(t, "-n", n, "create", "service", "externalname", "ext", "--external-name=db-headless."+n+".svc.cluster.local")
	ips := strings.Fields(cluster.MustKubectl(t, "-n", n, "get", "pods", "-l", "app=db", "-o", "jsonpath={.items[*].status.podIP}"))
	cluster.MustKubectl(t, "-n", n, "run", "dig", "--image="+toolbox, "--", "sh", "-c",
		"while true; do nslookup db-headless; nslookup ext."+n+".svc.cluster.local; sleep 1; done")
	framework.Eventually(t, 60*time.Second, func() error {
		logs, _ := cluster.Kubectl("-n", n, "logs", "dig")
		for _, ip := range ips {
			if !strings.Contains(logs, ip) {
				return fmt.Errorf("headless lookup lacks pod IP %s: %q", ip, tail(logs))
			}
		}
		if !strings.Contains(logs, "canonical name") && !strings.Contains(logs, "CNAME") {
			return fmt.Errorf("ExternalName lookup shows no CNAME: %q", tail(logs))
		}
		return nil
	})
}

// TestIngressRoutesBySeedPaths: the seed's Ingress sends /app1 and /app2 to two services.
func TestIngressRoutesBySeedPaths(t *testing.T) {
	n := ns(t, "ing")
	echoDeployment(t, n, "app1", 1)
	echoDeployment(t, n, "app2", 1)
	cluster.MustKubectl(t, "-n", n, "expose", "deployment", "app1", "--name=service-app1", "--port=80", "--target-port=8080")
	cluster.MustKubectl(t, "-n", n, "expose", "deployment", "app2", "--name=service-app2", "--port=8080", "--target-port=8080")
	cluster.MustKubectl(t, "-n", n, "apply", "-f", "../testdata/seeds/ingress-my-ingress.yaml")
	for path, want := range map[string]string{"/app1": "app1-", "/app2": "app2-"} {
		framework.Eventually(t, 30*time.Second, func() error {
			body, err := httpGet("http://127.0.0.1:" + ingressPort + path)
			if err != nil || !strings.Contains(body, "hostname: "+want) {
				return fmt.Errorf("ingress %s: %q %v", path, body, err)
			}
			return nil
		})
	}
	body, _ := httpGet("http://127.0.0.1:" + ingressPort + "/nothing-here")
	if !strings.Contains(body, "404") && !strings.Contains(strings.ToLower(body), "not found") {
		t.Errorf("unmatched path answered %q", body)
	}
}

// TestBlueGreenSwitchAndScaling: the seed's blue-green Service follows its selector,
// and scaling changes the endpoints behind a ClusterIP within seconds.
func TestBlueGreenSwitchAndScaling(t *testing.T) {
	n := ns(t, "bluegreen")
	manifest, err := os.ReadFile(filepath.Join("..", "testdata", "seeds", "blue-green.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The seed's app listens on 80; the toolbox serves on 8080 with the hostname page.
	m := strings.ReplaceAll(string(manifest), "        image: skiff.local/toolbox:1", "        image: skiff.local/toolbox:1\n        command: [\"/toolbox\", \"serve\", \"--port\", \"80\"]")
	if _, err := cluster.KubectlStdin(m, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	ip := strings.TrimSpace(cluster.MustKubectl(t, "-n", n, "get", "svc", "app-service", "-o", "jsonpath={.spec.clusterIP}"))
	hits := func(prefix string) error {
		for i := 0; i < 10; i++ {
			body, err := httpGet("http://" + ip + "/hostname")
			if err != nil || !strings.HasPrefix(body, prefix) {
				return fmt.Errorf("request %d reached %q (%v), want %s*", i, body, err, prefix)
			}
		}
		return nil
	}
	framework.Eventually(t, 90*time.Second, func() error { return hits("app-blue-") })
	cluster.MustKubectl(t, "-n", n, "patch", "svc", "app-service", "-p", `{"spec":{"selector":{"app":"myapp","version":"green"}}}`)
	framework.Eventually(t, 10*time.Second, func() error { return hits("app-green-") })
	// Scaling green to 1 leaves one endpoint, promptly.
	cluster.MustKubectl(t, "-n", n, "scale", "deploy", "app-green", "--replicas=1")
	start := time.Now()
	framework.Eventually(t, 30*time.Second, func() error {
		seen := map[string]bool{}
		for i := 0; i < 12; i++ {
			body, _ := httpGet("http://" + ip + "/hostname")
			seen[body] = true
		}
		if len(seen) != 1 {
			return fmt.Errorf("still reaching %d backends", len(seen))
		}
		return nil
	})
	t.Logf("traffic followed the scale-down in %s", time.Since(start).Round(10*time.Millisecond))
}

// TestStatefulSetPodsResolveByName: <pod>.<service>.<ns>.svc.cluster.local.
func TestStatefulSetPodsResolveByName(t *testing.T) {
	n := ns(t, "stsdns")
	manifest := `
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: http, port: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: c, image: ` + toolbox + `, command: ["/toolbox", "serve", "--port", "8080"]}]
`
	if _, err := cluster.KubectlStdin(manifest, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	ip1 := running(t, n, "db-1")
	cluster.MustKubectl(t, "-n", n, "run", "client", "--image="+toolbox, "--", "sh", "-c",
		"while true; do /toolbox wget -qO- -T 2 http://db-1.db."+n+".svc.cluster.local:8080/hostname; echo; nslookup db-1.db."+n+".svc.cluster.local; sleep 1; done")
	framework.Eventually(t, 60*time.Second, func() error {
		logs, _ := cluster.Kubectl("-n", n, "logs", "client")
		if !strings.Contains(logs, "db-1") || !strings.Contains(logs, ip1) {
			return fmt.Errorf("db-1 by name: %q", tail(logs))
		}
		return nil
	})
}

// TestIngressTLS: a TLS Ingress serves its Secret's certificate for its host.
func TestIngressTLS(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		framework.Require(t, false, "openssl")
	}
	n := ns(t, "tls")
	dir := t.TempDir()
	key, crt := filepath.Join(dir, "tls.key"), filepath.Join(dir, "tls.crt")
	gen := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=secure.example.test",
		"-addext", "subjectAltName=DNS:secure.example.test", "-keyout", key, "-out", crt)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	cluster.MustKubectl(t, "-n", n, "create", "secret", "tls", "secure-tls", "--cert="+crt, "--key="+key)
	echoDeployment(t, n, "secure", 1)
	cluster.MustKubectl(t, "-n", n, "expose", "deployment", "secure", "--port=80", "--target-port=8080")
	cluster.MustKubectl(t, "-n", n, "create", "ingress", "secure", "--rule=secure.example.test/*=secure:80,tls=secure-tls")
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(crt)
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "secure.example.test"},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+ingressTLSPort)
		},
	}}
	framework.Eventually(t, 30*time.Second, func() error {
		resp, err := client.Get("https://secure.example.test/hostname")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.HasPrefix(string(b), "secure-") {
			return fmt.Errorf("TLS ingress answered %q", b)
		}
		return nil
	})
}
