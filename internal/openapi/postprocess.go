package openapi

import (
	"slices"
	"strings"

	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// The builders hoist a parameter that every operation of a path shares up to
// the path. On a path with a single operation (POST tokenreviews, GET
// deployments across namespaces) that takes all its query parameters away
// from the operation, and kubectl, which looks only at an operation's own
// parameters for fieldValidation, would conclude the server cannot validate.
// So query parameters other than pretty go back down to the operations.
func keepOnOperation(in, name string) bool {
	return in == "query" && name != "pretty"
}

func lowerV2Parameters(sw *spec.Swagger) (*spec.Swagger, error) {
	for path, item := range sw.Paths.Paths {
		var down []spec.Parameter
		item.Parameters = slices.DeleteFunc(item.Parameters, func(p spec.Parameter) bool {
			if keepOnOperation(p.In, p.Name) {
				down = append(down, p)
				return true
			}
			return false
		})
		if len(down) == 0 {
			continue
		}
		for _, op := range []*spec.Operation{item.Get, item.Put, item.Post, item.Delete, item.Options, item.Head, item.Patch} {
			if op == nil {
				continue
			}
			op.Parameters = append(op.Parameters, down...)
			slices.SortStableFunc(op.Parameters, func(a, b spec.Parameter) int { return strings.Compare(a.Name, b.Name) })
		}
		sw.Paths.Paths[path] = item
	}
	return sw, nil
}

func lowerV3Parameters(doc *spec3.OpenAPI) (*spec3.OpenAPI, error) {
	for _, item := range doc.Paths.Paths {
		var down []*spec3.Parameter
		item.Parameters = slices.DeleteFunc(item.Parameters, func(p *spec3.Parameter) bool {
			if keepOnOperation(p.In, p.Name) {
				down = append(down, p)
				return true
			}
			return false
		})
		if len(down) == 0 {
			continue
		}
		for _, op := range []*spec3.Operation{item.Get, item.Put, item.Post, item.Delete, item.Options, item.Head, item.Patch} {
			if op == nil {
				continue
			}
			op.Parameters = append(op.Parameters, down...)
			slices.SortStableFunc(op.Parameters, func(a, b *spec3.Parameter) int { return strings.Compare(a.Name, b.Name) })
		}
	}
	return doc, nil
}
