package auth

import (
	"context"
	"testing"
)

func TestBootstrapAuthorizer(t *testing.T) {
	b := BootstrapAuthorizer{Requester: func(name string) (string, bool) {
		return map[string]string{"mine": "system:bootstrap:abcdef", "theirs": "system:bootstrap:zzzzzz"}[name], name == "mine" || name == "theirs"
	}}
	boot := &User{Name: "system:bootstrap:abcdef", Groups: []string{Bootstrappers}}
	csr := func(verb, name string) Attributes {
		return Attributes{User: boot, Verb: verb, APIGroup: "certificates.k8s.io", Resource: "certificatesigningrequests", Name: name}
	}
	for _, tc := range []struct {
		name string
		a    Attributes
		want bool
	}{
		{"create a request", csr("create", ""), true},
		{"get its own", csr("get", "mine"), true},
		{"watch its own by name", csr("watch", "mine"), true},
		{"get another's", csr("get", "theirs"), false},
		{"list all", csr("list", ""), false},
		{"approve", Attributes{User: boot, Verb: "update", APIGroup: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: "approval", Name: "mine"}, false},
		{"delete its own", csr("delete", "mine"), false},
		{"read cluster-info", Attributes{User: boot, Verb: "get", Resource: "configmaps", Namespace: "kube-public", Name: "cluster-info"}, true},
		{"read another ConfigMap", Attributes{User: boot, Verb: "get", Resource: "configmaps", Namespace: "kube-system", Name: "cluster-info"}, false},
		{"list kube-public", Attributes{User: boot, Verb: "list", Resource: "configmaps", Namespace: "kube-public"}, false},
		{"read secrets", Attributes{User: boot, Verb: "get", Resource: "secrets", Namespace: "kube-system", Name: "x"}, false},
		{"not a bootstrapper", Attributes{User: &User{Name: "bob"}, Verb: "create", APIGroup: "certificates.k8s.io", Resource: "certificatesigningrequests"}, false},
	} {
		if got, _ := b.Authorize(context.Background(), tc.a); got != tc.want {
			t.Errorf("%s: allowed = %v, want %v", tc.name, got, tc.want)
		}
	}
}
