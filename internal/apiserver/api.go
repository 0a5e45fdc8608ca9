// Package apiserver serves the Kubernetes REST API over the object store: routing,
// content negotiation, watch, discovery, tables, patch and apply, and errors as
// metav1.Status.
package apiserver

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apiserver/pkg/warning"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"skiff/internal/aggregator"
	"skiff/internal/apiextensions"
	"skiff/internal/auth"
	"skiff/internal/openapi"
	"skiff/internal/resources"
	"skiff/internal/serverjoin"
	"skiff/internal/store"
)

// endpoint is one served resource with its storage and field managers.
type endpoint struct {
	*resources.Info
	store *store.Resource
	// managers track managedFields, one per subresource that writes ("" and "status").
	managers map[string]*managedfields.FieldManager
	// owned records updates of fields their manager already owns without the
	// library's compare; nil for custom resources.
	owned *ownedUpdates
	// custom is the CRD version a custom resource's endpoint serves; nil for built-ins.
	custom *apiextensions.Version
}

// API is the REST API handler.
type API struct {
	store     *store.Store
	endpoints map[schema.GroupVersionResource]*endpoint
	custom    *customEndpoints
	openapi   *openapi.Handler
	infos     []*resources.Info
	authn     *auth.Authenticator
	authz     auth.Authorizer
	admit     *admission
	chain     admissionChain
	rbac      auth.RBAC
	pods      *auth.PodIndex // pods by node, for the node authorizer
	saTokens  *auth.ServiceAccountTokens
	metrics   *requestMetrics
	caPEM     []byte       // the cluster CA, published in kube-public/cluster-info
	audit     *auditChain  // nil: no audit log
	flow      *flowControl // nil: no priority and fairness
	// NodeProxy forwards pods/log, exec, attach and portforward to the node's agent;
	// nil until the node agent exists.
	NodeProxy func(w http.ResponseWriter, r *http.Request, q request)
	// Stats gives the node agents' usage stats behind metrics.k8s.io; nil until the
	// node agent exists.
	Stats StatsSource
	// HasQuorum reports whether etcd can commit writes now (nil: assume it can).
	HasQuorum func() bool
	// CAPEM is the cluster CA certificate, public at /cacerts: a joining server
	// checks it against its token before sending the token.
	CAPEM []byte
	// Extra serves non-resource paths (openapi, metrics...) after authentication.
	Extra map[string]http.Handler
	// Registry serves /v2/: anyone may pull; pushes need an authorized user.
	Registry http.Handler
	// Aggregator proxies the group/versions that APIServices hand to other servers.
	Aggregator *aggregator.Proxy
	// Conversions makes CRDs' version converters, webhooks included; nil serves
	// no CRD with webhook conversion.
	Conversions *apiextensions.Conversions
	now         func() time.Time
	ready       atomic.Bool
}

// NewAPI wires every resource to the store.
func NewAPI(s *store.Store, authn *auth.Authenticator, authz auth.Authorizer, alloc *resources.Allocators) (*API, error) {
	a := &API{
		store:     s,
		endpoints: map[schema.GroupVersionResource]*endpoint{},
		custom:    &customEndpoints{byGVR: map[schema.GroupVersionResource]*endpoint{}, byCRD: map[string]customSet{}},
		infos:     resources.All(),
		authn:     authn,
		authz:     authz,
		Extra:     map[string]http.Handler{},
		now:       time.Now,
		metrics:   newRequestMetrics(),
	}
	a.Extra["/metrics"] = a.metrics.handler()
	tc := newTypeConverter(newBuiltinTypes())
	managers := map[schema.GroupVersionKind]map[string]*managedfields.FieldManager{}
	owned := map[schema.GroupVersionKind]*ownedUpdates{}
	for _, info := range a.infos {
		ep := &endpoint{Info: info}
		a.endpoints[info.GroupVersionResource] = ep
		if info.Virtual {
			continue
		}
		ep.store = s.Register(info.StorageResource(), info.Storage)
		gvk := info.StorageGVK()
		if managers[gvk] == nil {
			m, err := newManagers(tc, info)
			if err != nil {
				return nil, fmt.Errorf("field manager for %s: %w", gvk, err)
			}
			managers[gvk] = m
			owned[gvk] = newOwnedUpdates(tc, info)
		}
		ep.managers, ep.owned = managers[gvk], owned[gvk]
	}
	a.rbac = auth.RBAC{Source: rbacSource{api: a}}
	a.pods = auth.NewPodIndex()
	// Cluster IPs come from the ServiceCIDRs and are held by IPAddress objects.
	alloc.ClusterIPs = &resources.ClusterIPs{Records: ipAddressRecords{api: a}, Ranges: a.serviceRanges}
	a.admit = &admission{api: a, alloc: alloc}
	a.serveOpenAPI()
	return a, nil
}

func newManagers(tc managedfields.TypeConverter, info *resources.Info) (map[string]*managedfields.FieldManager, error) {
	return newManagersWith(managedfields.NewDefaultFieldManager, tc, info, info.StorageGVK(), sameVersion{resources.Scheme}, resources.Scheme, info.Strategy)
}

// fieldManagerFactory is managedfields.NewDefaultFieldManager or, for custom
// resources, NewDefaultCRDFieldManager, which converts managed fields between
// versions through the storage version rather than an internal one.
type fieldManagerFactory func(managedfields.TypeConverter, runtime.ObjectConvertor, runtime.ObjectDefaulter, runtime.ObjectCreater,
	schema.GroupVersionKind, schema.GroupVersion, string, map[fieldpath.APIVersion]fieldpath.Filter) (*managedfields.FieldManager, error)

// newManagersWith builds the field managers of a kind whose objects conv converts
// and creater makes (the scheme for built-ins, unstructured for custom resources).
// They record managed fields as version gvk; objects come and go in the storage
// version.
func newManagersWith(newManager fieldManagerFactory, tc managedfields.TypeConverter, info *resources.Info, gvk schema.GroupVersionKind,
	conv runtime.ObjectConvertor, creater runtime.ObjectCreater, defaulter runtime.ObjectDefaulter) (map[string]*managedfields.FieldManager, error) {
	hub := info.Storage
	apiVersion := fieldpath.APIVersion(gvk.GroupVersion().String())
	out := map[string]*managedfields.FieldManager{}
	for sub, filter := range resetFields(info) {
		var reset map[fieldpath.APIVersion]fieldpath.Filter
		if filter != nil {
			reset = map[fieldpath.APIVersion]fieldpath.Filter{apiVersion: filter}
		}
		m, err := newManager(tc, conv, defaulter, creater, gvk, hub, sub, reset)
		if err != nil {
			return nil, err
		}
		out[sub] = m
	}
	return out, nil
}

// resetFields are the subresources whose writes a kind's field managers track,
// each with the fields its writes leave to the others (nil: none).
func resetFields(info *resources.Info) map[string]fieldpath.Filter {
	if !info.HasSubresource("status") {
		return map[string]fieldpath.Filter{"": nil}
	}
	return map[string]fieldpath.Filter{
		"":       fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie("status"))),
		"status": fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie("spec"), fieldpath.MakePathOrDie("metadata"))),
	}
}

// allowedMethods are the HTTP methods the API answers; TRACE in particular would
// echo a request's credentials back.
var allowedMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// serveHTTP authenticates, routes and authorizes every request.
func (a *API) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !allowedMethods[r.Method] {
		w.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
		writeError(w, &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure,
			Code: http.StatusMethodNotAllowed, Reason: metav1.StatusReasonMethodNotAllowed,
			Message: fmt.Sprintf("method %s is not allowed", r.Method)}})
		return
	}
	switch r.URL.Path {
	case "/healthz", "/livez", "/readyz":
		a.serveHealth(w, r)
		return
	case serverjoin.CACertsPath:
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(a.CAPEM)
		return
	}
	pull := r.Method == http.MethodGet || r.Method == http.MethodHead
	if a.Registry != nil && pull && (r.URL.Path == "/v2" || strings.HasPrefix(r.URL.Path, "/v2/")) {
		a.Registry.ServeHTTP(w, r)
		return
	}
	user, ok := a.authn.Authenticate(r)
	if !ok && r.URL.Path == "/version" {
		// Public, as Kubernetes' system:public-info-viewer makes it.
		serveVersion(w)
		return
	}
	if !ok {
		if a.audit != nil {
			a.audit.unauthorized.ServeHTTP(w, r)
			return
		}
		writeError(w, errUnauthorized)
		return
	}
	if a.audit != nil {
		a.audit.authenticated.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), user)))
		return
	}
	a.serveAuthenticated(w, r, user)
}

var errUnauthorized = apierrors.NewUnauthorized("Unauthorized")

// serveAuthenticated serves a request whose user is known.
func (a *API) serveAuthenticated(w http.ResponseWriter, r *http.Request, user *auth.User) {
	as, err := a.impersonate(r, user)
	if err != nil {
		writeError(w, err)
		return
	}
	if as != user {
		a.auditImpersonation(r.Context(), as)
		user = as
	}
	r = r.WithContext(auth.WithUser(r.Context(), user))
	if a.flow != nil {
		a.flow.serve(w, r, user)
		return
	}
	a.serveClassified(w, r, user)
}

// serveClassified serves a request that priority and fairness let through.
func (a *API) serveClassified(w http.ResponseWriter, r *http.Request, user *auth.User) {
	if r.URL.Path == "/version" {
		serveVersion(w)
		return
	}
	if svc := a.aggregatedService(r); svc != nil {
		a.serveAggregated(w, r, svc, user)
		return
	}
	if a.serveDiscovery(w, r) {
		return
	}
	q, ok := parseRequest(r)
	if !ok {
		a.serveNonResource(w, r, user)
		return
	}
	ep, err := a.endpointFor(q)
	if err != nil {
		writeError(w, err)
		return
	}
	attrs := requestAttributes(r, q, user)
	allowed, why := a.authz.Authorize(r.Context(), attrs)
	a.auditDecision(r.Context(), allowed, why)
	if !allowed {
		writeError(w, forbidden(attrs, why))
		return
	}
	if ep.Deprecated != "" {
		w.Header().Add("Warning", fmt.Sprintf(`299 - %q`, ep.Deprecated))
	}
	if ep.Inert != "" && q.Verb != "get" && q.Verb != "list" && q.Verb != "watch" {
		w.Header().Add("Warning", fmt.Sprintf(`299 - %q`, ep.Inert))
	}
	if err := a.writable(q.Verb); err != nil {
		writeError(w, err)
		return
	}
	// Admission plugins warn through the context, as in Kubernetes.
	r = r.WithContext(warning.WithWarningRecorder(r.Context(), &headerWarnings{w: w}))
	a.serveResource(w, r, q, ep)
}

func (a *API) serveNonResource(w http.ResponseWriter, r *http.Request, user *auth.User) {
	extra := a.Extra
	if a.Registry != nil {
		extra = maps.Clone(a.Extra)
		extra["/v2"] = a.Registry
	}
	for prefix, h := range extra {
		if r.URL.Path == prefix || strings.HasPrefix(r.URL.Path, prefix+"/") {
			attrs := auth.Attributes{User: user, Verb: strings.ToLower(r.Method), Path: r.URL.Path}
			allowed, why := a.authz.Authorize(r.Context(), attrs)
			a.auditDecision(r.Context(), allowed, why)
			if !allowed {
				writeError(w, forbidden(attrs, why))
				return
			}
			h.ServeHTTP(w, r)
			return
		}
	}
	writeError(w, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path))
}

// requestAttributes describe a resource request to authorization. A list or watch
// narrowed to one name by fieldSelector=metadata.name=X names X, as Kubernetes'
// request info does, so per-object rules (resourceNames, the node graph) apply.
func requestAttributes(r *http.Request, q request, user *auth.User) auth.Attributes {
	at := auth.Attributes{User: user, Verb: authzVerb(r, q), Namespace: authzNamespace(q), APIGroup: q.Group,
		Resource: q.Resource, Subresource: q.Subresource, Name: q.Name}
	if at.Verb == "list" || at.Verb == "watch" {
		at.FieldSelector = r.URL.Query().Get("fieldSelector")
		if sel, err := fields.ParseSelector(at.FieldSelector); err == nil {
			if name, ok := sel.RequiresExactMatch("metadata.name"); ok {
				at.Name = name
			}
		}
	}
	return at
}

// authzNamespace is the namespace a request acts in; a Namespace object is in itself,
// as Kubernetes authorizes it.
func authzNamespace(q request) string {
	if q.Resource == "namespaces" && q.Group == "" {
		return q.Name
	}
	return q.Namespace
}

// authzVerb is the verb authorization sees: WebSocket upgrades of exec, attach and
// portforward arrive as GET but mean create.
func authzVerb(r *http.Request, q request) string {
	switch q.Subresource {
	case "exec", "attach", "portforward":
		return "create"
	}
	return q.Verb
}

func forbidden(a auth.Attributes, why string) error {
	name := ""
	if a.User != nil {
		name = a.User.Name
	}
	msg := fmt.Sprintf("User %q cannot %s resource %q", name, a.Verb, a.Resource)
	if a.Subresource != "" {
		msg = fmt.Sprintf("User %q cannot %s resource \"%s/%s\"", name, a.Verb, a.Resource, a.Subresource)
	}
	if a.APIGroup != "" {
		msg += fmt.Sprintf(" in API group %q", a.APIGroup)
	} else if a.Resource != "" {
		msg += ` in API group ""`
	}
	if a.Namespace != "" {
		msg += fmt.Sprintf(" in the namespace %q", a.Namespace)
	} else if a.Resource != "" {
		msg += " at the cluster scope"
	}
	if !a.IsResource() {
		msg = fmt.Sprintf("User %q cannot %s path %q", name, a.Verb, a.Path)
	}
	if why != "" {
		msg += ": " + why
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: a.APIGroup, Resource: a.Resource}, a.Name, fmt.Errorf("%s", msg))
}

func (a *API) endpointFor(q request) (*endpoint, error) {
	gvr := schema.GroupVersionResource{Group: q.Group, Version: q.Version, Resource: q.Resource}
	ep := a.endpoints[gvr]
	if ep == nil {
		ep = a.custom.get(gvr)
	}
	notFound := apierrors.NewNotFound(schema.GroupResource{}, "")
	notFound.ErrStatus.Message = "the server could not find the requested resource"
	if ep == nil {
		return nil, notFound
	}
	if q.Subresource != "" && !ep.HasSubresource(q.Subresource) {
		return nil, notFound
	}
	if !ep.Namespaced && q.Namespace != "" && q.Resource != "namespaces" {
		return nil, notFound
	}
	if ep.Namespaced && q.Namespace == "" && q.Name != "" {
		return nil, notFound
	}
	return ep, nil
}

func (a *API) serveResource(w http.ResponseWriter, r *http.Request, q request, ep *endpoint) {
	if q.Verb != "watch" { // a watch waits, shallow, for as long as it lasts
		growStack()
	}
	if ep.ReadOnly {
		a.serveMetrics(w, r, q, ep)
		return
	}
	if ep.Virtual {
		a.serveReview(w, r, q, ep)
		return
	}
	switch q.Subresource {
	case "token":
		a.serveToken(w, r, q, ep)
		return
	case "", "status", "ephemeralcontainers", "resize", "approval":
	case "scale":
		a.serveScale(w, r, q, ep)
		return
	case "binding":
		a.serveBinding(w, r, q, ep)
		return
	case "eviction":
		a.serveEviction(w, r, q, ep)
		return
	case "finalize":
		a.serveFinalize(w, r, q, ep)
		return
	case "proxy":
		if q.Resource != "nodes" {
			a.servePodProxy(w, r, q)
			return
		}
		fallthrough
	default:
		if err := a.admitConnect(r.Context(), q, r.URL.Query(), ep); err != nil {
			writeError(w, err)
			return
		}
		if a.NodeProxy == nil {
			writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("%s/%s is served by the node agent, which this server does not run", q.Resource, q.Subresource)))
			return
		}
		a.NodeProxy(w, r, q)
		return
	}
	switch q.Verb {
	case "get":
		a.get(w, r, q, ep)
	case "list":
		a.list(w, r, q, ep)
	case "watch":
		a.watch(w, r, q, ep)
	case "create":
		a.create(w, r, q, ep)
	case "update":
		a.update(w, r, q, ep)
	case "patch":
		a.patch(w, r, q, ep)
	case "delete":
		a.delete(w, r, q, ep)
	case "deletecollection":
		a.deleteCollection(w, r, q, ep)
	default:
		writeError(w, apierrors.NewMethodNotSupported(ep.GroupResource(), r.Method))
	}
}

func (ep *endpoint) newList() (runtime.Object, error) {
	if ep.custom != nil {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(ep.GroupVersion().WithKind(ep.ListKind))
		return l, nil
	}
	return resources.Scheme.New(ep.GroupVersion().WithKind(ep.ListKind))
}

func secondsDuration(s int64) time.Duration { return time.Duration(s) * time.Second }
