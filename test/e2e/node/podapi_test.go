package node_test

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"skiff/test/e2e/framework"
)

// openWebSocket dials path on the API server as the admin, asking for protocol.
func openWebSocket(t *testing.T, path, protocol string) *websocket.Conn {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(cfg.Host + path)
	if err != nil {
		t.Fatal(err)
	}
	u.Scheme = "wss"
	wsCfg, err := websocket.NewConfig(u.String(), "https://"+u.Host)
	if err != nil {
		t.Fatal(err)
	}
	wsCfg.TlsConfig, wsCfg.Protocol = tlsCfg, []string{protocol}
	if cfg.BearerToken != "" {
		wsCfg.Header.Set("Authorization", "Bearer "+cfg.BearerToken)
	}
	ws, err := websocket.DialConfig(wsCfg)
	if err != nil {
		t.Fatalf("websocket %s (%s): %v", path, protocol, err)
	}
	return ws
}

// readAll collects a WebSocket's messages by channel until the server closes it; a
// base64 protocol's messages are text, the channel as a digit.
func readAll(t *testing.T, ws *websocket.Conn, base64Text bool) map[byte]string {
	t.Helper()
	out := map[byte]*bytes.Buffer{}
	for {
		var msg []byte
		if err := websocket.Message.Receive(ws, &msg); err != nil {
			break
		}
		if len(msg) == 0 {
			continue
		}
		ch, data := msg[0], msg[1:]
		if base64Text {
			ch -= '0'
			var err error
			if data, err = base64.StdEncoding.DecodeString(string(data)); err != nil {
				t.Fatalf("channel %d: %v", ch, err)
			}
		}
		if out[ch] == nil {
			out[ch] = &bytes.Buffer{}
		}
		out[ch].Write(data)
	}
	res := map[byte]string{}
	for ch, b := range out {
		res[ch] = b.String()
	}
	return res
}

// TestExecAndLogsOverWebSockets: what browsers and older clients use, the WebSocket
// protocols before kubectl's v5, for exec (channel.k8s.io, base64.channel.k8s.io)
// and logs (binary.k8s.io, base64.binary.k8s.io).
func TestExecAndLogsOverWebSockets(t *testing.T) {
	n := ns(t, "websockets")
	cluster.MustKubectl(t, "-n", n, "run", "web", "--image="+toolbox, "--", "/toolbox", "serve", "--port", "8080")
	running(t, n, "web")
	base := "/api/v1/namespaces/" + n + "/pods/web/"
	framework.Eventually(t, 20*time.Second, func() error {
		for _, proto := range []string{"binary.k8s.io", "base64.binary.k8s.io"} {
			ws := openWebSocket(t, base+"log?container=web", proto)
			var got strings.Builder
			for {
				var msg []byte
				if err := websocket.Message.Receive(ws, &msg); err != nil {
					break
				}
				if proto == "base64.binary.k8s.io" {
					msg, _ = base64.StdEncoding.DecodeString(string(msg))
				}
				got.Write(msg)
			}
			ws.Close()
			if !strings.Contains(got.String(), "serving on") {
				return &wsError{proto, got.String()}
			}
		}
		return nil
	})
	for _, proto := range []string{"channel.k8s.io", "base64.channel.k8s.io"} {
		ws := openWebSocket(t, base+"exec?container=web&stdout=1&stderr=1&command=/toolbox&command=curl&command=-s&command=http://127.0.0.1:8080/", proto)
		got := readAll(t, ws, strings.HasPrefix(proto, "base64"))
		ws.Close()
		if !strings.Contains(got[1], "hostname: web") {
			t.Errorf("%s: stdout %q, want the page", proto, got[1])
		}
		if got[3] != "" {
			t.Errorf("%s: error channel %q after a successful command, want nothing (v1 protocol)", proto, got[3])
		}
	}
}

type wsError struct{ proto, got string }

func (e *wsError) Error() string { return e.proto + ": log " + e.got }

// TestPodGenerationAndAdmission: metadata.generation counts spec changes and the
// kubelet reports the one it acted on; the kubelet refuses a pod with an unsafe
// sysctl, and one whose host port a running pod on the node holds.
func TestPodGenerationAndAdmission(t *testing.T) {
	n := ns(t, "podapi")
	cluster.MustKubectl(t, "-n", n, "run", "gen", "--image="+toolbox, "--", "/toolbox", "sleep", "infinity")
	running(t, n, "gen")
	if g := get(t, n, "gen", "{.metadata.generation}"); g != "1" {
		t.Fatalf("generation %s on create, want 1", g)
	}
	cluster.MustKubectl(t, "-n", n, "patch", "pod", "gen", "-p", `{"spec":{"activeDeadlineSeconds":3600}}`)
	if g := get(t, n, "gen", "{.metadata.generation}"); g != "2" {
		t.Fatalf("generation %s after a spec change, want 2", g)
	}
	waitFor(t, n, "gen", "{.status.observedGeneration}", 30*time.Second, equals("2"))

	out, err := cluster.KubectlStdin(`apiVersion: v1
kind: Pod
metadata: {name: bad-sysctl}
spec:
  securityContext: {sysctls: [{name: "foo-", value: "1"}]}
  containers: [{name: c, image: `+toolbox+`}]
`, "-n", n, "apply", "-f", "-")
	if err == nil || !strings.Contains(err.Error()+out, `Invalid value: "foo-"`) {
		t.Errorf("malformed sysctl: %v %s", err, out)
	}
	cluster.MustKubectl(t, "-n", n, "run", "unsafe", "--image="+toolbox, "--restart=Never",
		`--overrides={"spec":{"securityContext":{"sysctls":[{"name":"kernel.msgmax","value":"10000"}]}}}`, "--", "/toolbox", "sleep", "infinity")
	waitFor(t, n, "unsafe", "{.status.phase} {.status.reason}", 60*time.Second, equals("Failed SysctlForbidden"))

	// Both name the node themselves, so the scheduler never weighs the port.
	port := `{"spec":{"nodeName":"e2e-main","containers":[{"name":"%s","image":"` + toolbox +
		`","args":["/toolbox","sleep","infinity"],"ports":[{"containerPort":21017,"hostPort":21017}]}]}}`
	cluster.MustKubectl(t, "-n", n, "run", "holder", "--image="+toolbox, "--restart=Never", "--overrides="+strings.Replace(port, "%s", "holder", 1))
	running(t, n, "holder")
	cluster.MustKubectl(t, "-n", n, "run", "clash", "--image="+toolbox, "--restart=Never", "--overrides="+strings.Replace(port, "%s", "clash", 1))
	waitFor(t, n, "clash", "{.status.phase} {.status.reason}", 60*time.Second, equals("Failed NodePorts"))
}
