package apiserver

import (
	"skiff/internal/openapi"
	"skiff/internal/resources"
)

// serveOpenAPI mounts /openapi/v2 and /openapi/v3, built from the resource table
// and the served CRDs when first asked for.
func (a *API) serveOpenAPI() {
	rs := make([]openapi.Resource, 0, len(a.infos))
	for _, i := range a.infos {
		if i.ReadOnly {
			continue // metrics.k8s.io is published by metrics-server in Kubernetes, not by the API server's spec
		}
		rs = append(rs, openapi.Resource{Group: i.Group, Version: i.Version, Resource: i.Resource,
			Kind: i.Kind, Namespaced: i.Namespaced, Subresources: i.Subresources})
	}
	h := openapi.New(resources.Scheme, rs, a.customOpenAPI)
	a.Extra["/openapi"] = h
	a.openapi = h
}
