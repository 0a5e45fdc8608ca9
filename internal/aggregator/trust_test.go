package aggregator_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/testserver"
)

// TestExtensionAPIServerAuthentication: kube-system/extension-apiserver-authentication
// tells an aggregated API server to trust the aggregator's front-proxy client
// certificate for the X-Remote-* headers, and a service account bound to the
// extension-apiserver-authentication-reader Role may read it, as the sample API
// server's deployment expects.
func TestExtensionAPIServerAuthentication(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	cm, err := srv.Client.CoreV1().ConfigMaps("kube-system").Get(ctx, "extension-apiserver-authentication", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(cm.Data["requestheader-client-ca-file"])) || cm.Data["client-ca-file"] == "" {
		t.Fatalf("no CA in %v", cm.Data)
	}
	var allowed, users []string
	if err := json.Unmarshal([]byte(cm.Data["requestheader-allowed-names"]), &allowed); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(cm.Data["requestheader-username-headers"]), &users); err != nil || !slices.Contains(users, "X-Remote-User") {
		t.Errorf("username headers %q: %v", users, err)
	}
	data, err := os.ReadFile(filepath.Join(srv.Dir, "tls", "front-proxy-client.crt"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the front-proxy certificate does not chain to requestheader-client-ca-file: %v", err)
	}
	if !slices.Contains(allowed, cert.Subject.CommonName) {
		t.Errorf("front-proxy CN %q not in requestheader-allowed-names %q", cert.Subject.CommonName, allowed)
	}

	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "wardler-auth-reader", Namespace: "kube-system"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "extension-apiserver-authentication-reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: "default"}}}
	if _, err := srv.Client.RbacV1().RoleBindings("kube-system").Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: "system:serviceaccount:default:default", Groups: []string{"system:serviceaccounts", "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "kube-system", Verb: "get", Resource: "configmaps",
			Name: "extension-apiserver-authentication"}}}
	var got *authorizationv1.SubjectAccessReview
	for i := 0; i < 50; i++ { // RBAC reads its cache, which sees the binding shortly
		if got, err = srv.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{}); err != nil || got.Status.Allowed {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || !got.Status.Allowed {
		t.Errorf("the reader Role does not let its subject read the ConfigMap: %+v %v", got, err)
	}
}
