package openapi

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/common"
)

// The types in this file implement kube-openapi's common.RouteContainer,
// common.Route, common.Parameter and common.StatusCodeResponse as plain
// values, so that the builders can turn skiff's resource table into paths
// without a go-restful web service in between.

type param struct {
	name, desc string
	kind       common.ParameterKind
	dataType   string
	required   bool
}

func (p param) Name() string                 { return p.name }
func (p param) Description() string          { return p.desc }
func (p param) Required() bool               { return p.required }
func (p param) Kind() common.ParameterKind   { return p.kind }
func (p param) DataType() string             { return p.dataType }
func (p param) AllowMultiple() bool          { return false }
func (p param) MarshalJSON() ([]byte, error) { return []byte(`"` + p.name + `"`), nil } // only used in the builders' error messages

type response struct {
	code  int
	msg   string
	model any
}

func (r response) Code() int       { return r.code }
func (r response) Message() string { return r.msg }
func (r response) Model() any      { return r.model }

type route struct {
	method, path string
	opID, desc   string
	tag          string
	// action is x-kubernetes-action: get, list, post, put, patch, delete,
	// deletecollection or connect.
	action    string
	gvk       schema.GroupVersionKind
	params    []common.Parameter
	consumes  []string
	produces  []string
	body      any
	responses []common.StatusCodeResponse
}

func (r *route) Method() string                 { return r.method }
func (r *route) Path() string                   { return r.path }
func (r *route) OperationName() string          { return r.opID }
func (r *route) Parameters() []common.Parameter { return r.params }
func (r *route) Description() string            { return r.desc }
func (r *route) Consumes() []string             { return r.consumes }
func (r *route) Produces() []string             { return r.produces }
func (r *route) RequestPayloadSample() any      { return r.body }
func (r *route) ResponsePayloadSample() any     { return nil }
func (r *route) StatusCodeResponses() []common.StatusCodeResponse {
	return r.responses
}

// Metadata becomes the operation's x-kubernetes-* extensions: kubectl reads
// the GVK to find which PATCH operation belongs to a kind and checks it for
// the fieldValidation parameter.
func (r *route) Metadata() map[string]any {
	m := map[string]any{"x-kubernetes-action": r.action}
	if !r.gvk.Empty() {
		m[extGVK] = gvkExtension(r.gvk)
	}
	return m
}

// operationIDAndTags is the builders' GetOperationIDAndTagsFromRoute.
func operationIDAndTags(r common.Route) (string, []string, error) {
	if rt, ok := r.(*route); ok && rt.tag != "" {
		return rt.opID, []string{rt.tag}, nil
	}
	return r.OperationName(), nil, nil
}

// container holds the routes of one OpenAPI v3 document ("api/v1",
// "apis/apps/v1", "apis/apps", "version", ...); the v2 document is the union
// of all containers.
type container struct {
	root   string
	routes []common.Route
}

func (c *container) RootPath() string                   { return c.root }
func (c *container) PathParameters() []common.Parameter { return nil }
func (c *container) Routes() []common.Route             { return c.routes }
