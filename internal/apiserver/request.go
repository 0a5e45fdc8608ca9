package apiserver

import (
	"net/http"
	"strings"
)

// request is what a URL and method ask for, in Kubernetes' terms.
type request struct {
	Verb        string // get list watch create update patch delete deletecollection
	Group       string
	Version     string
	Namespace   string
	Resource    string
	Name        string
	Subresource string
	// Rest is what follows the subresource (pods/proxy/<path>).
	Rest string
}

// parseRequest splits /api/v1/... and /apis/<group>/<version>/... into a request. ok is
// false for any other path, or for discovery documents (no resource).
func parseRequest(r *http.Request) (request, bool) {
	var q request
	parts := splitPath(r.URL.Path)
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		q.Version, parts = parts[1], parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		q.Group, q.Version, parts = parts[1], parts[2], parts[3:]
	default:
		return q, false
	}
	watchPath := false
	if len(parts) > 0 && parts[0] == "watch" {
		watchPath, parts = true, parts[1:]
	}
	// namespaces/{ns}/{resource}... but namespaces/{ns} and namespaces/{ns}/status
	// address the Namespace object itself.
	if len(parts) >= 3 && parts[0] == "namespaces" && !isNamespaceSubresource(parts[2]) {
		q.Namespace, parts = parts[1], parts[2:]
	}
	if len(parts) == 0 {
		return q, false
	}
	q.Resource = parts[0]
	if len(parts) > 1 {
		q.Name = parts[1]
	}
	if len(parts) > 2 {
		q.Subresource = parts[2]
	}
	if len(parts) > 3 {
		q.Rest = strings.Join(parts[3:], "/")
	}
	q.Verb = verbFor(r, q.Name != "", watchPath)
	return q, true
}

func isNamespaceSubresource(s string) bool { return s == "status" || s == "finalize" }

func verbFor(r *http.Request, named, watchPath bool) string {
	switch r.Method {
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		if named {
			return "delete"
		}
		return "deletecollection"
	}
	w := r.URL.Query().Get("watch")
	if watchPath || w == "true" || w == "1" {
		return "watch"
	}
	if named {
		return "get"
	}
	return "list"
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
