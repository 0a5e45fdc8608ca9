package apiserver_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"skiff/test/e2e/framework"
)

// auditLog is the file the shared server writes its audit log to.
var auditLog string

// auditPolicy records Secrets by metadata only, ConfigMaps with their bodies, pods
// with the request, nothing of leases and events (the controllers' chatter), and
// everything else by metadata.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  resources:
  - group: coordination.k8s.io
    resources: ["leases"]
  - group: ""
    resources: ["events"]
  - group: events.k8s.io
    resources: ["events"]
- level: Metadata
  resources:
  - group: ""
    resources: ["secrets"]
- level: RequestResponse
  resources:
  - group: ""
    resources: ["configmaps"]
- level: Request
  resources:
  - group: ""
    resources: ["pods"]
- level: Metadata
`

func writeAuditPolicy(dir string) (string, error) {
	path := filepath.Join(dir, "audit-policy.yaml")
	return path, os.WriteFile(path, []byte(auditPolicy), 0o600)
}

// auditEvents reads the audit log.
func auditEvents(t *testing.T) ([]auditv1.Event, []byte) {
	t.Helper()
	data, err := os.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	var events []auditv1.Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		var ev auditv1.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit log line is not an audit.k8s.io/v1 Event: %v\n%s", err, sc.Text())
		}
		if ev.APIVersion != "audit.k8s.io/v1" || ev.Kind != "Event" {
			t.Fatalf("audit log line: %s %s", ev.APIVersion, ev.Kind)
		}
		events = append(events, ev)
	}
	return events, data
}

// findEvent waits for the ResponseComplete event that match accepts.
func findEvent(t *testing.T, what string, match func(auditv1.Event) bool) auditv1.Event {
	t.Helper()
	return findEventAt(t, auditv1.StageResponseComplete, what, match)
}

// findEventAt waits for the event of stage that match accepts.
func findEventAt(t *testing.T, stage auditv1.Stage, what string, match func(auditv1.Event) bool) auditv1.Event {
	t.Helper()
	var found auditv1.Event
	framework.Eventually(t, 10*time.Second, func() error {
		events, _ := auditEvents(t)
		for _, ev := range events {
			if ev.Stage == stage && match(ev) {
				found = ev
				return nil
			}
		}
		return fmt.Errorf("no audit event for %s among %d", what, len(events))
	})
	return found
}

func on(ev auditv1.Event, verb, resource, namespace, name string) bool {
	r := ev.ObjectRef
	return ev.Verb == verb && r != nil && r.Resource == resource && r.Namespace == namespace && r.Name == name
}

func TestAuditLogRecordsWhoDidWhat(t *testing.T) {
	n := ns(t, "audited")
	admin := strings.TrimSpace(cluster.MustKubectl(t, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"))
	const secret = "s3cr3t-audit-value"
	cluster.MustKubectl(t, "-n", n, "create", "secret", "generic", "creds", "--from-literal=password="+secret)
	cluster.MustKubectl(t, "-n", n, "get", "secret", "creds", "-o", "yaml")
	cluster.MustKubectl(t, "-n", n, "delete", "secret", "creds")
	cluster.MustKubectl(t, "-n", n, "create", "configmap", "settings", "--from-literal=color=teal")

	// A ServiceAccount with no grants asks for Secrets; a stranger with a bad token.
	cluster.MustKubectl(t, "-n", n, "create", "serviceaccount", "nosy")
	token := strings.TrimSpace(cluster.MustKubectl(t, "-n", n, "create", "token", "nosy"))
	server := strings.TrimSpace(cluster.MustKubectl(t, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"))
	as := func(token string, args ...string) error {
		_, err := cluster.Kubectl(append([]string{"--kubeconfig=/dev/null", "--server=" + server, "--insecure-skip-tls-verify", "--token=" + token}, args...)...)
		return err
	}
	if err := as(token, "-n", "kube-system", "get", "secrets"); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("the service account listed secrets: %v", err)
	}
	if err := as("not-a-token", "get", "--raw", "/api/v1/namespaces/"+n+"/configmaps"); err == nil {
		t.Fatal("a bad token was accepted")
	}

	// Pod Security in audit mode: the pod is admitted, the violation is in the log.
	cluster.MustKubectl(t, "label", "namespace", n, "pod-security.kubernetes.io/audit=restricted")
	cluster.MustKubectl(t, "-n", n, "run", "loose", "--image=skiff.local/toolbox:1")

	for _, verb := range []string{"create", "get", "delete"} {
		ev := findEvent(t, verb+" secret", func(ev auditv1.Event) bool { return on(ev, verb, "secrets", n, "creds") })
		if ev.User.Username != admin || ev.Level != auditv1.LevelMetadata || ev.RequestObject != nil || ev.ResponseObject != nil ||
			ev.ResponseStatus == nil || ev.ResponseStatus.Code >= 300 || ev.Annotations["authorization.k8s.io/decision"] != "allow" {
			t.Errorf("%s secret: %+v", verb, ev)
		}
	}
	_, raw := auditEvents(t)
	for _, leak := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))} {
		if bytes.Contains(raw, []byte(leak)) {
			t.Errorf("the Secret's value %q is in the audit log", leak)
		}
	}

	cm := findEvent(t, "create configmap", func(ev auditv1.Event) bool { return on(ev, "create", "configmaps", n, "settings") })
	if cm.Level != auditv1.LevelRequestResponse || cm.RequestObject == nil || !strings.Contains(string(cm.RequestObject.Raw), "teal") ||
		cm.ResponseObject == nil || !strings.Contains(string(cm.ResponseObject.Raw), `"uid"`) {
		t.Errorf("configmap at RequestResponse: level %s request %v response %v", cm.Level, cm.RequestObject, cm.ResponseObject)
	}

	denied := findEvent(t, "forbidden list", func(ev auditv1.Event) bool { return on(ev, "list", "secrets", "kube-system", "") })
	if denied.User.Username != "system:serviceaccount:"+n+":nosy" || denied.ResponseStatus == nil || denied.ResponseStatus.Code != 403 ||
		!strings.Contains(denied.ResponseStatus.Message, "cannot list resource") || denied.Annotations["authorization.k8s.io/decision"] != "forbid" {
		t.Errorf("forbidden request: user %q status %+v annotations %v", denied.User.Username, denied.ResponseStatus, denied.Annotations)
	}
	// As in Kubernetes, a refused authentication is logged when the response starts.
	findEventAt(t, auditv1.StageResponseStarted, "unauthenticated request", func(ev auditv1.Event) bool {
		return ev.RequestURI == "/api/v1/namespaces/"+n+"/configmaps" && ev.ResponseStatus != nil && ev.ResponseStatus.Code == 401
	})

	pod := findEvent(t, "create pod", func(ev auditv1.Event) bool {
		return on(ev, "create", "pods", n, "") || on(ev, "create", "pods", n, "loose")
	})
	if v := pod.Annotations["pod-security.kubernetes.io/audit-violations"]; !strings.Contains(v, "restricted") || pod.Level != auditv1.LevelRequest || pod.RequestObject == nil {
		t.Errorf("pod create: level %s annotations %v", pod.Level, pod.Annotations)
	}
}
