package openapi

import (
	crdbuilder "k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// setCustom replaces what the documents say about custom resources: their v2
// definitions and paths are merged into the built-in document, and each of
// their group/versions gets its own v3 document. Documents of group/versions no
// longer given are removed. The caller holds the Handler's lock.
func (d *documents) setCustom(v2 []*spec.Swagger, v3 map[string]*spec3.OpenAPI) error {
	merged, err := crdbuilder.MergeSpecs(d.static, v2...)
	if err != nil {
		return err
	}
	doc, err := newV2Document(merged)
	if err != nil {
		return err
	}
	d.v2 = doc
	for name, builtin := range d.v3docs {
		if _, ok := v3[name]; !builtin && !ok {
			d.v3.DeleteGroupVersion(name)
			delete(d.v3docs, name)
		}
	}
	for name, doc := range v3 {
		if d.v3docs[name] {
			continue // a custom resource never replaces a built-in group/version
		}
		d.v3.UpdateGroupVersion(name, doc)
		d.v3docs[name] = false
	}
	return nil
}
