package node_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// The routes from a join token or a namespace's worth of RBAC to cluster-admin,
// attempted as an attacker would; each must be refused as Kubernetes refuses it.

// joinAs posts a join request with the cluster's join token, as `skiff agent` does;
// it returns the status, the answer (and its raw body) and the private key.
func joinAs(t *testing.T, node string, addresses ...string) (code int, answer map[string]string, body, keyPEM string) {
	t.Helper()
	token, err := os.ReadFile(filepath.Join(cluster.Dir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	return joinWith(t, strings.TrimSpace(string(token)), node, addresses...)
}

// joinWith is joinAs with a given token.
func joinWith(t *testing.T, token, node string, addresses ...string) (code int, answer map[string]string, body, keyPEM string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	reqBody, _ := json.Marshal(map[string]any{"nodeName": node, "clientPublicKeyPEM": pub, "servingPublicKeyPEM": pub, "addresses": addresses})
	req, _ := http.NewRequest(http.MethodPost, serverURL(t)+"/skiff/v1/join", bytes.NewReader(reqBody))
	req.Header.Set("Authorization", "Bearer "+token)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]string
	_ = json.Unmarshal(data, &out)
	keyDER, _ := x509.MarshalECPrivateKey(key)
	return resp.StatusCode, out, string(data), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

func serverURL(t *testing.T) string {
	return strings.TrimSpace(cluster.MustKubectl(t, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"))
}

// kubeconfigFor writes a kubeconfig for a client certificate or a bearer token.
func kubeconfigFor(t *testing.T, name, certPEM, keyPEM, token string) string {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(cluster.Dir, "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	user := "    token: " + token
	if certPEM != "" {
		user = "    client-certificate-data: " + b64(certPEM) + "\n    client-key-data: " + b64(keyPEM)
	}
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: u
  user:
%s
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`, serverURL(t), b64(string(ca)), user)
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// refused runs kubectl and wants it to fail with all of the given message parts.
func refused(t *testing.T, kubeconfig string, want []string, args ...string) {
	t.Helper()
	if kubeconfig != "" {
		args = append([]string{"--kubeconfig", kubeconfig}, args...)
	}
	out, err := cluster.Kubectl(args...)
	if err == nil {
		t.Fatalf("kubectl %s was allowed:\n%s", strings.Join(args, " "), out)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("kubectl %s: want %q in\n%v", strings.Join(args, " "), w, err)
		}
	}
}

func TestJoinTokenCannotTakeOverNodesOrForeignNames(t *testing.T) {
	for _, tc := range []struct {
		node  string
		addrs []string
		want  string
	}{
		{"e2e-main", []string{"192.0.2.7"}, `node \"e2e-main\" has already joined`},
		{"e2e-fake", []string{"kubernetes.default.svc"}, "is not an IP address"},
		{"e2e-fake", []string{"*.example.test"}, "is not an IP address"},
		{"e2e-fake", []string{"10.96.0.1"}, "is in the service range"},
		{"e2e-fake", []string{"127.0.0.1"}, "is not an address of the node"},
	} {
		code, _, body, _ := joinAs(t, tc.node, tc.addrs...)
		if code != http.StatusForbidden || !strings.Contains(body, tc.want) {
			t.Errorf("join as %s with %v: %d, want 403 with %q:\n%s", tc.node, tc.addrs, code, tc.want, body)
		}
	}
}

func TestNodeIdentityReadsOnlyItsPodsObjects(t *testing.T) {
	// A join as a new name succeeds: that is the legitimate flow, and the attacker's
	// starting point.
	const node = "e2e-attacker"
	code, resp, body, keyPEM := joinAs(t, node, "192.0.2.66")
	if code != http.StatusOK {
		t.Fatalf("join: %d\n%s", code, body)
	}
	kc := kubeconfigFor(t, node, resp["clientCertificatePEM"], keyPEM, "")
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "node", node, "--ignore-not-found") })

	n := ns(t, "nodeauthz")
	cluster.MustKubectl(t, "-n", n, "create", "secret", "generic", "used", "--from-literal=k=v")
	cluster.MustKubectl(t, "-n", n, "create", "secret", "generic", "victim", "--from-literal=password=hunter2")
	cluster.MustKubectl(t, "-n", n, "create", "configmap", "used-cm", "--from-literal=k=v")
	// A pod bound to the node (no agent runs it) makes "used" and "used-cm" its objects.
	cluster.MustKubectl(t, "-n", n, "run", "p", "--image="+toolbox, "--overrides",
		fmt.Sprintf(`{"spec":{"nodeName":%q,"volumes":[{"name":"s","secret":{"secretName":"used"}},{"name":"c","configMap":{"name":"used-cm"}}],
		 "containers":[{"name":"p","image":%q,"volumeMounts":[{"name":"s","mountPath":"/s"},{"name":"c","mountPath":"/c"}]}]}}`, node, toolbox))

	framework.Eventually(t, 10*time.Second, func() error {
		_, err := cluster.Kubectl("--kubeconfig", kc, "-n", n, "get", "secret", "used")
		return err
	})
	cluster.MustKubectl(t, "--kubeconfig", kc, "-n", n, "get", "configmap", "used-cm")
	cluster.MustKubectl(t, "--kubeconfig", kc, "get", "nodes")

	noRelation := "no relationship found between node '" + node + "' and this object"
	refused(t, kc, []string{"is forbidden", `User "system:node:` + node + `" cannot get resource "secrets"`, noRelation}, "-n", n, "get", "secret", "victim")
	refused(t, kc, []string{"is forbidden", `cannot list resource "secrets"`}, "get", "secrets", "-A")
	refused(t, kc, []string{"is forbidden"}, "-n", "kube-system", "get", "configmaps")
	refused(t, kc, []string{"is forbidden", `is not allowed to modify node "e2e-main"`}, "label", "node", "e2e-main", "pwned=true")
	refused(t, kc, []string{"is forbidden", `cannot create resource "clusterrolebindings"`},
		"create", "clusterrolebinding", "pwn", "--clusterrole=cluster-admin", "--user=system:node:"+node)
	refused(t, kc, []string{"is forbidden", "can only create mirror pods"}, "-n", n, "run", "evil", "--image="+toolbox)
	// The pod's service account, but a token not bound to the pod, and another
	// namespace's account.
	refused(t, kc, []string{"is forbidden", "node requested token not bound to a pod"}, "-n", n, "create", "token", "default")
	refused(t, kc, []string{"is forbidden", noRelation}, "-n", "kube-system", "create", "token", "default")
	// The node registers and labels itself, but not with the labels reserved to
	// administrators, and registers no other node.
	nodeManifest := "apiVersion: v1\nkind: Node\nmetadata:\n  name: %s\n"
	if out, err := cluster.KubectlStdin(fmt.Sprintf(nodeManifest, node), "--kubeconfig", kc, "create", "-f", "-"); err != nil {
		t.Fatalf("node registers itself: %v\n%s", err, out)
	}
	cluster.MustKubectl(t, "--kubeconfig", kc, "label", "node", node, "team=a")
	refused(t, kc, []string{"is forbidden", `is not allowed to modify labels: node-restriction.kubernetes.io/trusted`},
		"label", "node", node, "node-restriction.kubernetes.io/trusted=true")
	if out, err := cluster.KubectlStdin(fmt.Sprintf(nodeManifest, "e2e-ghost"), "--kubeconfig", kc, "create", "-f", "-"); err == nil ||
		!strings.Contains(err.Error(), `is not allowed to modify node "e2e-ghost"`) {
		t.Fatalf("node registered another node: %v\n%s", err, out)
	}
}

func TestRBACEscalationRefused(t *testing.T) {
	n := ns(t, "escalate")
	// A ServiceAccount allowed to create ClusterRoleBindings, and nothing else.
	cluster.MustKubectl(t, "-n", n, "create", "serviceaccount", "binder")
	cluster.MustKubectl(t, "create", "clusterrole", "e2e-crb-writer", "--verb=create", "--resource=clusterrolebindings,clusterroles")
	cluster.MustKubectl(t, "create", "clusterrolebinding", "e2e-crb-writer", "--clusterrole=e2e-crb-writer", "--serviceaccount="+n+":binder")
	t.Cleanup(func() {
		_, _ = cluster.Kubectl("delete", "clusterrole,clusterrolebinding", "e2e-crb-writer", "--ignore-not-found")
		_, _ = cluster.Kubectl("delete", "clusterrolebinding", "e2e-pwn", "--ignore-not-found")
	})
	token := strings.TrimSpace(cluster.MustKubectl(t, "-n", n, "create", "token", "binder"))
	kc := kubeconfigFor(t, "binder", "", "", token)
	refused(t, kc, []string{"is forbidden", "is attempting to grant RBAC permissions not currently held", `{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`},
		"create", "clusterrolebinding", "e2e-pwn", "--clusterrole=cluster-admin", "--serviceaccount="+n+":binder")
	if out, _ := cluster.Kubectl("get", "clusterrolebinding", "e2e-pwn"); out != "" {
		t.Fatalf("the refused binding exists:\n%s", out)
	}
	// With bind on cluster-admin, as Kubernetes allows.
	cluster.MustKubectl(t, "create", "clusterrole", "e2e-bind-admin", "--verb=bind", "--resource=clusterroles", "--resource-name=cluster-admin")
	cluster.MustKubectl(t, "create", "clusterrolebinding", "e2e-bind-admin", "--clusterrole=e2e-bind-admin", "--serviceaccount="+n+":binder")
	t.Cleanup(func() {
		_, _ = cluster.Kubectl("delete", "clusterrole,clusterrolebinding", "e2e-bind-admin", "--ignore-not-found")
	})
	framework.Eventually(t, 10*time.Second, func() error {
		_, err := cluster.Kubectl("--kubeconfig", kc, "create", "clusterrolebinding", "e2e-pwn", "--clusterrole=cluster-admin", "--user=nobody")
		return err
	})

	// A user allowed to write Roles in one namespace writes a */*/* Role.
	cluster.MustKubectl(t, "-n", n, "create", "role", "role-writer", "--verb=create,update,get", "--resource=roles")
	cluster.MustKubectl(t, "-n", n, "create", "rolebinding", "role-writer", "--role=role-writer", "--user=alice")
	refused(t, "", []string{"is forbidden", `user "alice"`, "is attempting to grant RBAC permissions not currently held"},
		"--as=alice", "-n", n, "create", "role", "all", "--verb=*", "--resource=*.*")
	// Rules alice holds are fine.
	cluster.MustKubectl(t, "--as=alice", "-n", n, "create", "role", "subset", "--verb=get", "--resource=roles")
	refused(t, kc, []string{"is forbidden", "must have cluster-admin privileges to use the aggregationRule"},
		"create", "clusterrole", "e2e-agg", "--aggregation-rule=e2e=true")
	refused(t, kc, []string{"is forbidden", "is attempting to grant RBAC permissions not currently held"},
		"create", "clusterrole", "e2e-all", "--verb=*", "--resource=*.*")
}

func TestAggregatedClusterRolesAreFilled(t *testing.T) {
	view := cluster.MustKubectl(t, "get", "clusterrole", "view", "-o", "jsonpath={.rules}")
	if !strings.Contains(view, "pods") || strings.Contains(view, `"secrets"`) {
		t.Fatalf("view rules: %s", view)
	}
	cluster.MustKubectl(t, "create", "clusterrole", "e2e-widgets-view", "--verb=get", "--non-resource-url=/e2e-widgets")
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "clusterrole", "e2e-widgets-view", "--ignore-not-found") })
	cluster.MustKubectl(t, "label", "clusterrole", "e2e-widgets-view", "rbac.authorization.k8s.io/aggregate-to-view=true")
	framework.Eventually(t, 10*time.Second, func() error {
		if v := cluster.MustKubectl(t, "get", "clusterrole", "view", "-o", "jsonpath={.rules}"); !strings.Contains(v, "/e2e-widgets") {
			return fmt.Errorf("view does not aggregate e2e-widgets-view: %s", v)
		}
		return nil
	})
}

func TestJoinTokensExpireAndAreRevoked(t *testing.T) {
	token := strings.TrimSpace(mustSkiff(t, "token", "create", "--ttl", "1h", "--description", "e2e"))
	id := token[:6]
	if out := mustSkiff(t, "token", "list"); !strings.Contains(out, id) || !strings.Contains(out, "authentication") || strings.Contains(out, token) {
		t.Fatalf("token list:\n%s", out)
	}
	code, _, body, _ := joinWith(t, token, "e2e-token-node", "192.0.2.67")
	if code != http.StatusOK {
		t.Fatalf("join with a new token: %d\n%s", code, body)
	}
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "node", "e2e-token-node", "--ignore-not-found") })
	mustSkiff(t, "token", "delete", id)
	if code, _, body, _ := joinWith(t, token, "e2e-token-node2", "192.0.2.68"); code != http.StatusUnauthorized {
		t.Fatalf("join with a deleted token: %d, want 401\n%s", code, body)
	}
	// An expired token, as an administrator (or kubeadm) would have left it.
	cluster.MustKubectl(t, "-n", "kube-system", "create", "secret", "generic", "bootstrap-token-e2eold", "--type=bootstrap.kubernetes.io/token",
		"--from-literal=token-id=e2eold", "--from-literal=token-secret=0123456789abcdef", "--from-literal=usage-bootstrap-authentication=true",
		"--from-literal=expiration=2020-01-01T00:00:00Z")
	t.Cleanup(func() { _, _ = cluster.Kubectl("-n", "kube-system", "delete", "secret", "bootstrap-token-e2eold") })
	if code, _, body, _ := joinWith(t, "e2eold.0123456789abcdef", "e2e-token-node3", "192.0.2.69"); code != http.StatusUnauthorized {
		t.Fatalf("join with an expired token: %d, want 401\n%s", code, body)
	}
}

func mustSkiff(t *testing.T, args ...string) string {
	t.Helper()
	out, err := cluster.Skiff(args...)
	if err != nil {
		t.Fatalf("skiff %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// csrManifest is a kubelet client certificate request for node, and its key.
func csrManifest(t *testing.T, name, node string) (manifest, keyPEM string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	req := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	keyDER, _ := x509.MarshalECPrivateKey(key)
	return fmt.Sprintf(`apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: %s
spec:
  request: %s
  signerName: kubernetes.io/kube-apiserver-client-kubelet
  usages: ["digital signature", "client auth"]
  username: admin
  groups: ["system:masters"]
`, name, req), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

func TestCertificateSigningRequests(t *testing.T) {
	token, err := os.ReadFile(filepath.Join(cluster.Dir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	boot := kubeconfigFor(t, "bootstrap", "", "", strings.TrimSpace(string(token)))
	t.Cleanup(func() {
		_, _ = cluster.Kubectl("delete", "csr", "e2e-csr-new", "e2e-csr-taken", "--ignore-not-found")
		_, _ = cluster.Kubectl("delete", "clusterrole,clusterrolebinding", "e2e-csr-approver", "--ignore-not-found")
	})
	issued := func(name string) string {
		var cert string
		framework.Eventually(t, 30*time.Second, func() error {
			cert = cluster.MustKubectl(t, "get", "csr", name, "-o", "jsonpath={.status.certificate}")
			if cert == "" {
				return fmt.Errorf("csr %s has no certificate", name)
			}
			return nil
		})
		data, err := base64.StdEncoding.DecodeString(cert)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}

	// A join token asks for a new node's client certificate: approved and signed
	// without a person; the requester is the token, whatever the request claims.
	manifest, key := csrManifest(t, "e2e-csr-new", "e2e-csr-node")
	if out, err := cluster.KubectlStdin(manifest, "--kubeconfig", boot, "create", "-f", "-"); err != nil {
		t.Fatalf("create csr with the join token: %v\n%s", err, out)
	}
	cert := issued("e2e-csr-new")
	if u := cluster.MustKubectl(t, "get", "csr", "e2e-csr-new", "-o", "jsonpath={.spec.username} {.status.conditions[0].reason}"); u != "system:bootstrap:skiff AutoApproved" {
		t.Fatalf("csr requester and approval: %q", u)
	}
	nodeKC := kubeconfigFor(t, "csr-node", cert, key, "")
	if who := cluster.MustKubectl(t, "--kubeconfig", nodeKC, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); who != "system:node:e2e-csr-node" {
		t.Fatalf("issued certificate authenticates as %q", who)
	}
	refused(t, nodeKC, []string{"is forbidden"}, "get", "secrets", "-A")

	// The same for a node that exists waits for an administrator.
	manifest, _ = csrManifest(t, "e2e-csr-taken", "e2e-main")
	if out, err := cluster.KubectlStdin(manifest, "--kubeconfig", boot, "create", "-f", "-"); err != nil {
		t.Fatalf("create csr: %v\n%s", err, out)
	}
	time.Sleep(2 * time.Second)
	if c := cluster.MustKubectl(t, "get", "csr", "e2e-csr-taken", "-o", "jsonpath={.status.conditions}"); c != "" {
		t.Fatalf("a request for an existing node's name was decided without an administrator: %s", c)
	}
	// Someone allowed to write approvals, but not to approve for this signer.
	cluster.MustKubectl(t, "create", "clusterrole", "e2e-csr-approver", "--verb=get,update", "--resource=certificatesigningrequests,certificatesigningrequests/approval")
	cluster.MustKubectl(t, "create", "clusterrolebinding", "e2e-csr-approver", "--clusterrole=e2e-csr-approver", "--user=carol")
	refused(t, "", []string{"is forbidden", `user not permitted to approve requests with signerName "kubernetes.io/kube-apiserver-client-kubelet"`},
		"--as=carol", "certificate", "approve", "e2e-csr-taken")
	cluster.MustKubectl(t, "certificate", "approve", "e2e-csr-taken")
	issued("e2e-csr-taken")
}
