package node_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// The routes from a join token or a namespace's worth of RBAC to cluster-admin,
// attempted as an attacker would; each must be refused as Kubernetes refuses it.

// joinToken is the cluster's own join token (the server's <data-dir>/token).
func joinToken(t *testing.T) string {
	t.Helper()
	token, err := os.ReadFile(filepath.Join(cluster.Dir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(token))
}

// requestCert creates, as kubeconfig, a certificate signing request for node's
// kubelet client (signer client) or serving (signer serving) certificate naming
// the given DNS names and IPs, as a joining agent does; it returns the key. An
// empty kubeconfig is the administrator's.
func requestCert(t *testing.T, kubeconfig, name, signer, node string, dns []string, ips ...string) (keyPEM string, err error) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}}, DNSNames: dns}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	usages := `["digital signature", "client auth"]`
	if signer == "kubernetes.io/kubelet-serving" {
		usages = `["digital signature", "key encipherment", "server auth"]`
	}
	// The requester is recorded by the server, whatever the request claims.
	manifest := fmt.Sprintf("apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: %s\nspec:\n  request: %s\n  signerName: %s\n  usages: %s\n"+
		"  username: admin\n  groups: [\"system:masters\"]\n",
		name, base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), signer, usages)
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "csr", name, "--ignore-not-found") })
	args := []string{"create", "-f", "-"}
	if kubeconfig != "" {
		args = append([]string{"--kubeconfig", kubeconfig}, args...)
	}
	if out, err := cluster.KubectlStdin(manifest, args...); err != nil {
		return "", fmt.Errorf("%w\n%s", err, out)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})), nil
}

const (
	clientSigner  = "kubernetes.io/kube-apiserver-client-kubelet"
	servingSigner = "kubernetes.io/kubelet-serving"
)

// issued waits for the request's certificate.
func issued(t *testing.T, name string) string {
	t.Helper()
	var cert string
	framework.Eventually(t, 30*time.Second, func() error {
		cert = cluster.MustKubectl(t, "get", "csr", name, "-o", "jsonpath={.status.certificate}")
		if cert == "" {
			return fmt.Errorf("csr %s has no certificate: %s", name, cluster.MustKubectl(t, "get", "csr", name, "-o", "jsonpath={.status.conditions}"))
		}
		return nil
	})
	data, err := base64.StdEncoding.DecodeString(cert)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// joinAs joins as node the way `skiff agent` does, with the join token: a kubelet
// client certificate through a certificate signing request. It returns a
// kubeconfig for the node's identity.
func joinAs(t *testing.T, token, node string) string {
	t.Helper()
	boot := kubeconfigFor(t, "bootstrap-"+node, "", "", token)
	key, err := requestCert(t, boot, "e2e-join-"+node, clientSigner, node, nil)
	if err != nil {
		t.Fatal(err)
	}
	return kubeconfigFor(t, node, issued(t, "e2e-join-"+node), key, "")
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
	token := joinToken(t)
	boot := kubeconfigFor(t, "bootstrap", "", "", token)
	pendingWithEvent := func(name, reason string) {
		t.Helper()
		framework.Eventually(t, 15*time.Second, func() error {
			ev, err := cluster.Kubectl("get", "events", "-A", "--field-selector", "involvedObject.name="+name, "-o", "jsonpath={.items[*].reason}: {.items[*].message}")
			if err != nil || !strings.Contains(ev, reason) {
				return fmt.Errorf("no %s event for %s: %v %s", reason, name, err, ev)
			}
			return nil
		})
		if c := cluster.MustKubectl(t, "get", "csr", name, "-o", "jsonpath={.status.conditions}{.status.certificate}"); c != "" {
			t.Fatalf("csr %s was decided: %s", name, c)
		}
	}

	// The join token asks for the name of a node that exists.
	if _, err := requestCert(t, boot, "e2e-takeover", clientSigner, "e2e-main", nil); err != nil {
		t.Fatal(err)
	}
	pendingWithEvent("e2e-takeover", "NodeNameTaken")

	// Two machines race for one new name: one certificate.
	for _, name := range []string{"e2e-race-a", "e2e-race-b"} {
		if _, err := requestCert(t, boot, name, clientSigner, "e2e-race", nil); err != nil {
			t.Fatal(err)
		}
	}
	issued(t, "e2e-race-a")
	pendingWithEvent("e2e-race-b", "NodeNameTaken")

	// The join token asks for a serving certificate: never without an administrator.
	if _, err := requestCert(t, boot, "e2e-boot-serving", servingSigner, "e2e-fake", []string{"kubernetes.default.svc"}); err != nil {
		t.Fatal(err)
	}
	pendingWithEvent("e2e-boot-serving", "NotRequestedByTheNode")

	// A join token reads its own requests only, and approves nothing.
	refused(t, boot, []string{"is forbidden"}, "get", "csr")
	if _, err := requestCert(t, "", "e2e-admins-own", clientSigner, "e2e-admins-node", nil); err != nil {
		t.Fatal(err)
	}
	cluster.MustKubectl(t, "--kubeconfig", boot, "get", "csr", "e2e-race-a")
	refused(t, boot, []string{"is forbidden", "a join token reads only the certificate signing requests it made"}, "get", "csr", "e2e-admins-own")
	refused(t, boot, []string{"is forbidden"}, "certificate", "approve", "e2e-takeover")
	refused(t, boot, []string{"is forbidden"}, "-n", "kube-system", "get", "secrets")
	refused(t, boot, []string{"is forbidden"}, "get", "nodes")
	cluster.MustKubectl(t, "--kubeconfig", boot, "-n", "kube-public", "get", "configmap", "cluster-info")

	// A node asks for serving certificates naming what is not its own: denied.
	node := joinAs(t, token, "e2e-servingnode")
	for i, tc := range []struct {
		dns  []string
		ips  []string
		want string
	}{
		{[]string{"e2e-servingnode", "kubernetes.default.svc"}, nil, `DNS name "kubernetes.default.svc" is not the node name`},
		{[]string{"*.example.test"}, nil, `DNS name "*.example.test" is not the node name`},
		{nil, []string{"10.96.0.1"}, "is in the service range"},
		{nil, []string{"127.0.0.1"}, "is not an address of the node"},
	} {
		name := fmt.Sprintf("e2e-foreign-san-%d", i)
		if _, err := requestCert(t, node, name, servingSigner, "e2e-servingnode", tc.dns, tc.ips...); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, 15*time.Second, func() error {
			c := cluster.MustKubectl(t, "get", "csr", name, "-o", "jsonpath={.status.conditions[0].type}: {.status.conditions[0].message}")
			if !strings.HasPrefix(c, "Denied: ") || !strings.Contains(c, tc.want) {
				return fmt.Errorf("csr %s for %v %v: %q, want denied with %q", name, tc.dns, tc.ips, c, tc.want)
			}
			return nil
		})
	}
	// Its own name and address: approved and signed.
	if _, err := requestCert(t, node, "e2e-own-serving", servingSigner, "e2e-servingnode", []string{"e2e-servingnode"}, "192.0.2.70"); err != nil {
		t.Fatal(err)
	}
	issued(t, "e2e-own-serving")
	// And it asks for no other node's serving certificate.
	if _, err := requestCert(t, node, "e2e-other-serving", servingSigner, "e2e-main", []string{"e2e-main"}); err != nil {
		t.Fatal(err)
	}
	pendingWithEvent("e2e-other-serving", "NotRequestedByTheNode")
}

func TestNodeIdentityReadsOnlyItsPodsObjects(t *testing.T) {
	// A join as a new name succeeds: that is the legitimate flow, and the attacker's
	// starting point.
	const node = "e2e-attacker"
	kc := joinAs(t, joinToken(t), node)
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
	// Nor other kubernetes.io labels outside the kubelet's own: a node does not make
	// itself a control-plane node (the server's own node is one).
	refused(t, kc, []string{"is forbidden", `is not allowed to modify labels: node-role.kubernetes.io/control-plane`},
		"label", "node", node, "node-role.kubernetes.io/control-plane=")
	cluster.MustKubectl(t, "--kubeconfig", kc, "label", "node", node, "topology.kubernetes.io/zone=z1")
	if roles := cluster.MustKubectl(t, "get", "node", "e2e-main", "-o", "jsonpath={.metadata.labels}"); !strings.Contains(roles, "node-role.kubernetes.io/control-plane") {
		t.Fatalf("the server's node is not labelled control-plane: %s", roles)
	}
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
	joinAs(t, token, "e2e-token-node")
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "node", "e2e-token-node", "--ignore-not-found") })
	mustSkiff(t, "token", "delete", id)
	unauthorized := func(token, node string) {
		t.Helper()
		_, err := requestCert(t, kubeconfigFor(t, "boot-"+node, "", "", token), "e2e-join-"+node, clientSigner, node, nil)
		if err == nil || !strings.Contains(err.Error(), "Unauthorized") && !strings.Contains(err.Error(), "the server has asked for the client to provide credentials") {
			t.Fatalf("join as %s: %v, want Unauthorized", node, err)
		}
	}
	unauthorized(token, "e2e-token-node2")
	// An expired token, as an administrator (or kubeadm) would have left it.
	cluster.MustKubectl(t, "-n", "kube-system", "create", "secret", "generic", "bootstrap-token-e2eold", "--type=bootstrap.kubernetes.io/token",
		"--from-literal=token-id=e2eold", "--from-literal=token-secret=0123456789abcdef", "--from-literal=usage-bootstrap-authentication=true",
		"--from-literal=expiration=2020-01-01T00:00:00Z")
	t.Cleanup(func() { _, _ = cluster.Kubectl("-n", "kube-system", "delete", "secret", "bootstrap-token-e2eold") })
	unauthorized("e2eold.0123456789abcdef", "e2e-token-node3")
}

func mustSkiff(t *testing.T, args ...string) string {
	t.Helper()
	out, err := cluster.Skiff(args...)
	if err != nil {
		t.Fatalf("skiff %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestCertificateSigningRequests(t *testing.T) {
	boot := kubeconfigFor(t, "bootstrap", "", "", joinToken(t))
	t.Cleanup(func() {
		_, _ = cluster.Kubectl("delete", "clusterrole,clusterrolebinding", "e2e-csr-approver", "--ignore-not-found")
	})

	// A join token asks for a new node's client certificate: approved and signed
	// without a person; the requester is the token, whatever the request claims.
	key, err := requestCert(t, boot, "e2e-csr-new", clientSigner, "e2e-csr-node", nil)
	if err != nil {
		t.Fatalf("create csr with the join token: %v", err)
	}
	cert := issued(t, "e2e-csr-new")
	if u := cluster.MustKubectl(t, "get", "csr", "e2e-csr-new", "-o", "jsonpath={.spec.username} {.status.conditions[0].reason}"); u != "system:bootstrap:skiff AutoApproved" {
		t.Fatalf("csr requester and approval: %q", u)
	}
	nodeKC := kubeconfigFor(t, "csr-node", cert, key, "")
	if who := cluster.MustKubectl(t, "--kubeconfig", nodeKC, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); who != "system:node:e2e-csr-node" {
		t.Fatalf("issued certificate authenticates as %q", who)
	}
	refused(t, nodeKC, []string{"is forbidden"}, "get", "secrets", "-A")

	// The same for a node that exists waits for an administrator.
	if _, err := requestCert(t, boot, "e2e-csr-taken", clientSigner, "e2e-main", nil); err != nil {
		t.Fatal(err)
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
	issued(t, "e2e-csr-taken")
}
