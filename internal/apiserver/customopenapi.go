package apiserver

import (
	"log/slog"
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdbuilder "k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// publishOpenAPI puts the served CRDs' schemas into /openapi/v2 and /openapi/v3
// (when next asked for), so that kubectl explain and client-side validation
// know custom kinds.
func (a *API) publishOpenAPI() {
	if a.openapi != nil {
		a.openapi.CustomChanged()
	}
}

// customOpenAPI is the served CRDs' documents, built by the apiextensions
// library as Kubernetes builds them.
func (a *API) customOpenAPI() ([]*spec.Swagger, map[string]*spec3.OpenAPI) {
	var v2 []*spec.Swagger
	perGV := map[string][]*spec3.OpenAPI{}
	for _, crd := range a.custom.crds() {
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			s2, err := crdbuilder.BuildOpenAPIV2(crd, v.Name, crdbuilder.Options{V2: true, IncludeSelectableFields: true})
			if err != nil {
				slog.Warn("apiextensions: openapi v2", "crd", crd.Name, "version", v.Name, "err", err)
				continue
			}
			s3, err := crdbuilder.BuildOpenAPIV3(crd, v.Name, crdbuilder.Options{V2: false, IncludeSelectableFields: true})
			if err != nil {
				slog.Warn("apiextensions: openapi v3", "crd", crd.Name, "version", v.Name, "err", err)
				continue
			}
			v2 = append(v2, s2)
			name := "apis/" + crd.Spec.Group + "/" + v.Name
			perGV[name] = append(perGV[name], s3)
		}
	}
	v3 := map[string]*spec3.OpenAPI{}
	for name, docs := range perGV {
		merged, err := crdbuilder.MergeSpecsV3(docs...)
		if err != nil {
			slog.Warn("apiextensions: openapi v3 merge", "document", name, "err", err)
			continue
		}
		v3[name] = merged
	}
	return v2, v3
}

// crds are the CRDs whose resources are served.
func (c *customEndpoints) crds() []*apiextensionsv1.CustomResourceDefinition {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(c.byCRD))
	for _, s := range c.byCRD {
		out = append(out, s.crd)
	}
	slices.SortFunc(out, func(a, b *apiextensionsv1.CustomResourceDefinition) int { return strings.Compare(a.Name, b.Name) })
	return out
}
