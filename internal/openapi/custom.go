package openapi

import (
	crdbuilder "k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// SetCustom replaces what the documents say about custom resources: their v2
// definitions and paths are merged into the built-in document, and each of
// their group/versions gets its own v3 document (named "apis/<group>/<version>").
// Documents of group/versions no longer given are removed.
func (h *Handler) SetCustom(v2 []*spec.Swagger, v3 map[string]*spec3.OpenAPI) error {
	merged, err := crdbuilder.MergeSpecs(h.static, v2...)
	if err != nil {
		return err
	}
	doc, err := newV2Document(merged)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.v2 = doc
	for name, builtin := range h.v3docs {
		if _, ok := v3[name]; !builtin && !ok {
			h.v3.DeleteGroupVersion(name)
			delete(h.v3docs, name)
		}
	}
	for name, d := range v3 {
		if h.v3docs[name] {
			continue // a custom resource never replaces a built-in group/version
		}
		h.v3.UpdateGroupVersion(name, d)
		h.v3docs[name] = false
	}
	return nil
}
