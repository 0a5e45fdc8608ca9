package apiserver

import (
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/auth"
)

// impersonate applies the Impersonate-User / -Group / -Uid headers (kubectl --as,
// --as-group), after checking that the real user may impersonate each of them.
func (a *API) impersonate(r *http.Request, real *auth.User) (*auth.User, error) {
	name := r.Header.Get("Impersonate-User")
	groups := r.Header.Values("Impersonate-Group")
	if name == "" {
		if len(groups) > 0 {
			return nil, apierrors.NewBadRequest("Impersonate-Group requires Impersonate-User")
		}
		return real, nil
	}
	check := func(resource, ns, n string) error {
		attrs := auth.Attributes{User: real, Verb: "impersonate", Resource: resource, Namespace: ns, Name: n}
		if ok, why := a.authz.Authorize(r.Context(), attrs); !ok {
			return apierrors.NewForbidden(schema.GroupResource{Resource: resource}, n, fmt.Errorf("User %q cannot impersonate resource %q in API group \"\": %s", real.Name, resource, why))
		}
		return nil
	}
	u := &auth.User{Name: name, UID: r.Header.Get("Impersonate-Uid")}
	if sa, ok := strings.CutPrefix(name, auth.ServiceAccountPrefix); ok {
		ns, saName, _ := strings.Cut(sa, ":")
		if err := check("serviceaccounts", ns, saName); err != nil {
			return nil, err
		}
		u.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}
	} else if err := check("users", "", name); err != nil {
		return nil, err
	}
	for _, g := range groups {
		if err := check("groups", "", g); err != nil {
			return nil, err
		}
		u.Groups = append(u.Groups, g)
	}
	if !u.InGroup(auth.Authenticated) {
		u.Groups = append(u.Groups, auth.Authenticated)
	}
	return u, nil
}
