package openapi

import (
	"net/http"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/kube-openapi/pkg/common"
)

var (
	objectMedia = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	listMedia   = append(slices.Clip(objectMedia), "application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
	// patchMedia are the patch types the API server accepts; kubectl and
	// client-go pick the PATCH body format from this list.
	patchMedia = []string{
		"application/json-patch+json",
		"application/merge-patch+json",
		"application/strategic-merge-patch+json",
		"application/apply-patch+yaml",
	}
	anyMedia = []string{"*/*"}

	prettyParam = param{name: "pretty", kind: common.QueryParameterKind, dataType: "string",
		desc: "If 'true', then the output is pretty printed."}
	namespaceParam = param{name: "namespace", kind: common.PathParameterKind, dataType: "string", required: true,
		desc: "object name and auth scope, such as for teams and projects"}
	pathParam = param{name: "path", kind: common.PathParameterKind, dataType: "string", required: true,
		desc: "path to the resource"}
)

// paths turns the resource table into routes, one container per OpenAPI v3
// document.
type paths struct {
	cat  *catalog
	docs map[string]*container

	// Query parameters of each verb, taken from the options types.
	list, create, update, patch, del, delCollection []common.Parameter
}

func newPaths(cat *catalog) *paths {
	p := &paths{cat: cat, docs: map[string]*container{}}
	p.list = p.query(&metav1.ListOptions{})
	p.create = p.query(&metav1.CreateOptions{})
	p.update = p.query(&metav1.UpdateOptions{})
	p.patch = p.query(&metav1.PatchOptions{})
	p.del = p.query(&metav1.DeleteOptions{})
	// A collection delete selects like a list but never watches.
	p.delCollection = append(p.query(&metav1.ListOptions{}, "watch", "allowWatchBookmarks"), p.del...)

	p.add("api", "/api", &route{method: http.MethodGet, path: "/api/", opID: "getCoreAPIVersions", tag: "core",
		desc: "get available API versions", produces: objectMedia, responses: ok(&metav1.APIVersions{})})
	p.add("apis", "/apis", &route{method: http.MethodGet, path: "/apis/", opID: "getAPIVersions", tag: "apis",
		desc: "get available API versions", produces: objectMedia, responses: ok(&metav1.APIGroupList{})})
	p.add("version", "/version", &route{method: http.MethodGet, path: "/version/", opID: "getCodeVersion", tag: "version",
		desc: "get the version information for this server", produces: []string{"application/json"}, responses: ok(&version.Info{})})
	return p
}

func (p *paths) add(doc, root string, routes ...*route) {
	c := p.docs[doc]
	if c == nil {
		c = &container{root: root}
		p.docs[doc] = c
	}
	for _, r := range routes {
		c.routes = append(c.routes, r)
	}
}

func ok(model any) []common.StatusCodeResponse {
	return []common.StatusCodeResponse{response{http.StatusOK, "OK", model}}
}

// query returns the query parameters an options type stands for.
func (p *paths) query(model any, skip ...string) []common.Parameter {
	var out []common.Parameter
	for _, q := range p.cat.optionParams(model, skip...) {
		out = append(out, q)
	}
	return out
}

// served describes the parts of one served resource its routes share.
type served struct {
	Resource
	gvk       schema.GroupVersionKind
	obj, list any
	prefix    string // "/api/v1", "/apis/apps/v1"
	doc       string // "api/v1", "apis/apps/v1"
	tag       string // "core_v1", "apps_v1"
	op        string // "CoreV1", "AppsV1"
	scope     string // "Namespaced" or ""
	coll      string // the collection path
	item      string // the path of one object
	scopeArgs []common.Parameter
	nameArg   common.Parameter
}

// addGroupVersion adds the discovery routes of a group and version once.
func (p *paths) addGroupVersion(group, ver string) {
	doc, prefix := "api/v1", "/api/v1"
	if group != "" {
		doc, prefix = "apis/"+group+"/"+ver, "/apis/"+group+"/"+ver
	}
	if p.docs[doc] != nil {
		return
	}
	p.add(doc, prefix, &route{method: http.MethodGet, path: prefix + "/", opID: "get" + opPrefix(group, ver) + "APIResources",
		tag: tag(group, ver), desc: "get available resources", produces: objectMedia, responses: ok(&metav1.APIResourceList{})})
	if group != "" && p.docs["apis/"+group] == nil {
		p.add("apis/"+group, "/apis/"+group, &route{method: http.MethodGet, path: "/apis/" + group + "/",
			opID: "get" + opPrefix(group, "") + "APIGroup", tag: tag(group, ""), desc: "get information of a group",
			produces: objectMedia, responses: ok(&metav1.APIGroup{})})
	}
}

func (p *paths) addResource(r Resource) error {
	gvk := schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
	obj, err := p.cat.model(gvk)
	if err != nil {
		return err
	}
	// Reviews (TokenReview, SubjectAccessReview, ...) have no list type:
	// they are only ever created, and the answer comes back in the response.
	list, err := p.cat.model(gvk.GroupVersion().WithKind(r.Kind + "List"))
	createOnly := err != nil
	p.addGroupVersion(r.Group, r.Version)
	rc := &served{Resource: r, gvk: gvk, obj: obj, list: list, op: opPrefix(r.Group, r.Version), tag: tag(r.Group, r.Version),
		nameArg: param{name: "name", kind: common.PathParameterKind, dataType: "string", required: true, desc: "name of the " + r.Kind}}
	rc.doc, rc.prefix = "api/v1", "/api/v1"
	if r.Group != "" {
		rc.doc, rc.prefix = "apis/"+r.Group+"/"+r.Version, "/apis/"+r.Group+"/"+r.Version
	}
	rc.coll = rc.prefix + "/" + r.Resource
	if r.Namespaced {
		rc.scope = "Namespaced"
		rc.coll = rc.prefix + "/namespaces/{namespace}/" + r.Resource
		rc.scopeArgs = []common.Parameter{namespaceParam}
	}
	rc.item = rc.coll + "/{name}"

	coll := p.collectionRoutes(rc)
	if createOnly {
		p.add(rc.doc, rc.prefix, coll[1]) // the POST
		return nil
	}
	p.add(rc.doc, rc.prefix, coll...)
	p.add(rc.doc, rc.prefix, p.objectRoutes(rc, rc.item, "", rc.obj, rc.gvk, "")...)
	p.add(rc.doc, rc.prefix, p.deleteRoute(rc))
	for _, sub := range r.Subresources {
		routes, err := p.subresourceRoutes(rc, sub)
		if err != nil {
			return err
		}
		p.add(rc.doc, rc.prefix, routes...)
	}
	return nil
}

// collectionRoutes are list, create and deletecollection on the collection,
// in that order, and the list across namespaces of a namespaced resource.
func (p *paths) collectionRoutes(rc *served) []*route {
	k := rc.Kind
	body := param{name: "body", kind: common.BodyParameterKind, dataType: k, required: true}
	delBody := param{name: "body", kind: common.BodyParameterKind, dataType: "DeleteOptions"}
	routes := []*route{
		{method: http.MethodGet, path: rc.coll, opID: "list" + rc.op + rc.scope + k, action: "list",
			desc: "list or watch objects of kind " + k, params: slices.Concat(rc.scopeArgs, p.list, []common.Parameter{prettyParam}),
			consumes: anyMedia, produces: listMedia, responses: ok(rc.list)},
		{method: http.MethodPost, path: rc.coll, opID: "create" + rc.op + rc.scope + k, action: "post",
			desc: "create a " + k, params: slices.Concat(rc.scopeArgs, p.create, []common.Parameter{prettyParam, body}),
			consumes: anyMedia, produces: objectMedia, body: rc.obj, responses: []common.StatusCodeResponse{
				response{http.StatusOK, "OK", rc.obj}, response{http.StatusCreated, "Created", rc.obj}, response{http.StatusAccepted, "Accepted", rc.obj}}},
		{method: http.MethodDelete, path: rc.coll, opID: "delete" + rc.op + "Collection" + rc.scope + k, action: "deletecollection",
			desc: "delete collection of " + k, params: slices.Concat(rc.scopeArgs, p.delCollection, []common.Parameter{prettyParam, delBody}),
			consumes: anyMedia, produces: objectMedia, body: &metav1.DeleteOptions{}, responses: ok(&metav1.Status{})},
	}
	if rc.Namespaced {
		routes = append(routes, &route{method: http.MethodGet, path: rc.prefix + "/" + rc.Resource.Resource,
			opID: "list" + rc.op + k + "ForAllNamespaces", action: "list",
			desc: "list or watch objects of kind " + k + " in all namespaces", params: slices.Concat(p.list, []common.Parameter{prettyParam}),
			consumes: anyMedia, produces: listMedia, responses: ok(rc.list)})
	}
	for _, r := range routes {
		r.tag, r.gvk = rc.tag, rc.gvk
	}
	return routes
}

// objectRoutes are get, replace and patch of an object or of a subresource
// that reads and writes a whole object (status, scale, ephemeralcontainers).
// suffix is added to operation ids ("Status"), what to descriptions.
func (p *paths) objectRoutes(rc *served, path, suffix string, model any, gvk schema.GroupVersionKind, what string) []*route {
	k := rc.Kind
	name := rc.scope + k + suffix
	args := slices.Concat(rc.scopeArgs, []common.Parameter{rc.nameArg})
	body := param{name: "body", kind: common.BodyParameterKind, dataType: gvk.Kind, required: true}
	patchBody := param{name: "body", kind: common.BodyParameterKind, dataType: "Patch", required: true}
	updated := []common.StatusCodeResponse{response{http.StatusOK, "OK", model}, response{http.StatusCreated, "Created", model}}
	routes := []*route{
		{method: http.MethodGet, path: path, opID: "read" + rc.op + name, action: "get",
			desc: "read " + what + "the specified " + k, params: slices.Concat(args, []common.Parameter{prettyParam}),
			consumes: anyMedia, produces: objectMedia, responses: ok(model)},
		{method: http.MethodPut, path: path, opID: "replace" + rc.op + name, action: "put",
			desc: "replace " + what + "the specified " + k, params: slices.Concat(args, p.update, []common.Parameter{prettyParam, body}),
			consumes: anyMedia, produces: objectMedia, body: model, responses: updated},
		{method: http.MethodPatch, path: path, opID: "patch" + rc.op + name, action: "patch",
			desc: "partially update " + what + "the specified " + k, params: slices.Concat(args, p.patch, []common.Parameter{prettyParam, patchBody}),
			consumes: patchMedia, produces: objectMedia, body: &metav1.Patch{}, responses: updated},
	}
	for _, r := range routes {
		r.tag, r.gvk = rc.tag, gvk
	}
	return routes
}

func (p *paths) deleteRoute(rc *served) *route {
	k := rc.Kind
	body := param{name: "body", kind: common.BodyParameterKind, dataType: "DeleteOptions"}
	return &route{method: http.MethodDelete, path: rc.item, opID: "delete" + rc.op + rc.scope + k, action: "delete",
		tag: rc.tag, gvk: rc.gvk, desc: "delete a " + k,
		params:   slices.Concat(rc.scopeArgs, []common.Parameter{rc.nameArg}, p.del, []common.Parameter{prettyParam, body}),
		consumes: anyMedia, produces: objectMedia, body: &metav1.DeleteOptions{},
		responses: []common.StatusCodeResponse{response{http.StatusOK, "OK", &metav1.Status{}}, response{http.StatusAccepted, "Accepted", &metav1.Status{}}}}
}

// subresourceRoutes describes the subresources Kubernetes defines. A
// subresource this table does not know is served but left undocumented,
// as its request and response types cannot be guessed.
func (p *paths) subresourceRoutes(rc *served, sub string) ([]*route, error) {
	path := rc.item + "/" + sub
	suffix := strings.ToUpper(sub[:1]) + sub[1:]
	switch sub {
	case "status", "ephemeralcontainers", "approval", "resize":
		return p.objectRoutes(rc, path, suffix, rc.obj, rc.gvk, sub+" of "), nil
	case "scale":
		return p.objectRoutes(rc, path, suffix, &autoscalingv1.Scale{}, autoscalingv1.SchemeGroupVersion.WithKind("Scale"), "scale of "), nil
	case "finalize":
		rs := p.objectRoutes(rc, path, suffix, rc.obj, rc.gvk, "finalize of ")
		return rs[1:2], nil // only PUT
	case "binding":
		return p.createSubresource(rc, path, suffix, corev1.SchemeGroupVersion.WithKind("Binding"))
	case "eviction":
		return p.createSubresource(rc, path, suffix, policyv1.SchemeGroupVersion.WithKind("Eviction"))
	case "token":
		return p.createSubresource(rc, path, suffix, authenticationv1.SchemeGroupVersion.WithKind("TokenRequest"))
	case "log":
		return p.logRoute(rc, path)
	case "exec", "attach", "portforward":
		return p.connectRoutes(rc, path, suffix, []string{http.MethodGet, http.MethodPost})
	case "proxy":
		all := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions}
		routes, err := p.connectRoutes(rc, path, suffix, all)
		if err != nil {
			return nil, err
		}
		withPath, err := p.connectRoutes(rc, path+"/{path}", suffix+"WithPath", all)
		return append(routes, withPath...), err
	}
	return nil, nil
}

// createSubresource is a POST of another kind to an object: a Binding to a
// Pod, an Eviction of a Pod, a TokenRequest for a ServiceAccount.
func (p *paths) createSubresource(rc *served, path, suffix string, gvk schema.GroupVersionKind) ([]*route, error) {
	model, err := p.cat.mustNew(gvk)
	if err != nil {
		return nil, err
	}
	body := param{name: "body", kind: common.BodyParameterKind, dataType: gvk.Kind, required: true}
	return []*route{{method: http.MethodPost, path: path, opID: "create" + rc.op + rc.scope + rc.Kind + suffix, action: "post",
		tag: rc.tag, gvk: gvk, desc: "create " + gvk.Kind + " of a " + rc.Kind,
		params:   slices.Concat(rc.scopeArgs, []common.Parameter{rc.nameArg}, p.create, []common.Parameter{prettyParam, body}),
		consumes: anyMedia, produces: objectMedia, body: model, responses: []common.StatusCodeResponse{
			response{http.StatusOK, "OK", model}, response{http.StatusCreated, "Created", model}, response{http.StatusAccepted, "Accepted", model}}}}, nil
}

func (p *paths) logRoute(rc *served, path string) ([]*route, error) {
	opts, err := p.cat.mustNew(rc.gvk.GroupVersion().WithKind(rc.Kind + "LogOptions"))
	if err != nil {
		return nil, err
	}
	return []*route{{method: http.MethodGet, path: path, opID: "read" + rc.op + rc.scope + rc.Kind + "Log", action: "get",
		tag: rc.tag, gvk: rc.gvk, desc: "read log of the specified " + rc.Kind,
		params:   slices.Concat(rc.scopeArgs, []common.Parameter{rc.nameArg}, p.query(opts), []common.Parameter{prettyParam}),
		consumes: anyMedia, produces: append([]string{"text/plain"}, objectMedia...), responses: ok("")}}, nil
}

// connectRoutes describe exec, attach, portforward and proxy: their query
// parameters are the fields of the kind's options type (PodExecOptions...),
// and the response is a stream, described as a string.
func (p *paths) connectRoutes(rc *served, path, suffix string, methods []string) ([]*route, error) {
	optsKind := rc.Kind + strings.TrimSuffix(suffix, "WithPath") + "Options"
	if suffix == "Portforward" {
		optsKind = rc.Kind + "PortForwardOptions"
	}
	gvk := rc.gvk.GroupVersion().WithKind(optsKind)
	opts, err := p.cat.mustNew(gvk)
	if err != nil {
		return nil, err
	}
	args := slices.Concat(rc.scopeArgs, []common.Parameter{rc.nameArg}, p.query(opts))
	if strings.HasSuffix(path, "/{path}") {
		// The path travels in the URL; drop the query parameter of the same name.
		args = slices.DeleteFunc(args, func(a common.Parameter) bool { return a.Name() == "path" && a.Kind() == common.QueryParameterKind })
		args = append(args, pathParam)
	}
	var routes []*route
	for _, m := range methods {
		verb := strings.ToUpper(m[:1]) + strings.ToLower(m[1:])
		routes = append(routes, &route{method: m, path: path, opID: "connect" + rc.op + verb + rc.scope + rc.Kind + suffix,
			action: "connect", tag: rc.tag, gvk: gvk, desc: "connect " + m + " requests to " + strings.ToLower(strings.TrimSuffix(suffix, "WithPath")) + " of " + rc.Kind,
			params: args, consumes: anyMedia, produces: anyMedia, responses: ok("")})
	}
	return routes, nil
}

// opPrefix is the group and version as operation ids spell them:
// "" v1 -> CoreV1, rbac.authorization.k8s.io v1 -> RbacAuthorizationV1.
func opPrefix(group, ver string) string {
	if group == "" {
		group = "core"
	}
	var b strings.Builder
	for _, part := range strings.FieldsFunc(strings.TrimSuffix(group, ".k8s.io"), func(r rune) bool { return r == '.' || r == '-' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	if ver != "" {
		b.WriteString(strings.ToUpper(ver[:1]) + ver[1:])
	}
	return b.String()
}

// tag is the operation tag: "core_v1", "rbacAuthorization_v1", "apps".
func tag(group, ver string) string {
	t := opPrefix(group, "")
	t = strings.ToLower(t[:1]) + t[1:]
	if ver != "" {
		t += "_" + ver
	}
	return t
}
