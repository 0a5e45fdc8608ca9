package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	admissionapi "k8s.io/apiserver/pkg/admission"
	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	k8saudit "k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/endpoints/filters"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
	"sigs.k8s.io/yaml"

	"skiff/internal/audit"
	"skiff/internal/auth"
	"skiff/internal/resources"
)

// The audit log is k8s.io/apiserver's: its filters take the request once it is
// authenticated (or refused as unauthenticated), evaluate the policy, and write the
// event at each stage; admission plugins' annotations reach the event through
// admissionapi.WithAudit. Skiff's part is to give those filters what the generic
// server would have put in the context (request info, user), to say what the
// authorizer decided, and to hand over the request and response bodies at the
// Request and RequestResponse levels. With no audit log configured, a.audit is nil
// and requests take none of these steps.

// auditBodyLimit bounds the request or response body kept in one event.
const auditBodyLimit = 1 << 20

type auditChain struct {
	*audit.Auditor
	authenticated http.Handler
	unauthorized  http.Handler
}

// EnableAudit audits every request after authentication through the auditor; it is
// called before admission plugins are added.
func (a *API) EnableAudit(au *audit.Auditor) {
	longRunningRequest := func(_ *http.Request, ri *genericrequest.RequestInfo) bool {
		return longRunning(strings.ToUpper(ri.Verb), ri.Subresource)
	}
	c := &auditChain{Auditor: au}
	c.authenticated = filters.WithAuditInit(c.withRequestInfo(filters.WithAudit(http.HandlerFunc(a.serveAuditedRequest), au.Sink, au.Policy, longRunningRequest)))
	c.unauthorized = filters.WithAuditInit(c.withRequestInfo(filters.WithFailedAuthenticationAudit(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, errUnauthorized)
	}), au.Sink, au.Policy)))
	a.audit = c
}

// withRequestInfo puts the request info (and the user, once authenticated) where the
// library's filters look for them.
func (c *auditChain) withRequestInfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, err := c.RequestInfo(r)
		if err != nil {
			info = &genericrequest.RequestInfo{Path: r.URL.Path, Verb: strings.ToLower(r.Method)}
		}
		ctx := genericrequest.WithRequestInfo(r.Context(), info)
		if u := auth.UserFrom(ctx); u != nil {
			ctx = genericrequest.WithUser(ctx, userInfo(u))
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// serveAuditedRequest serves an authenticated request inside the audit filter,
// keeping the bodies its level asks for.
func (a *API) serveAuditedRequest(w http.ResponseWriter, r *http.Request) {
	ac := k8saudit.AuditContextFrom(r.Context())
	u := auth.UserFrom(r.Context())
	if !ac.Enabled() {
		a.serveAuthenticated(w, r, u)
		return
	}
	level := ac.GetEventLevel()
	if !level.Less(auditinternal.LevelRequest) {
		if body := requestBody(r); body != nil {
			ac.LogRequestPatch(body)
		}
	}
	info, _ := genericrequest.RequestInfoFrom(r.Context())
	cw := &capturingWriter{ResponseWriter: w,
		keep: !level.Less(auditinternal.LevelRequestResponse) && !longRunning(strings.ToUpper(info.Verb), info.Subresource)}
	a.serveAuthenticated(cw, r, u)
	cw.log(ac)
}

// requestBody returns a JSON request body (YAML is converted), leaving it readable
// for the handler; nil for none, protobuf or one too large to keep.
func requestBody(r *http.Request) []byte {
	if r.Body == nil || (r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch) {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isYAML := strings.HasSuffix(mt, "yaml")
	if !strings.HasSuffix(mt, "json") && !isYAML {
		return nil
	}
	head, err := io.ReadAll(io.LimitReader(r.Body, auditBodyLimit+1))
	r.Body = readCloser{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
	if err != nil || len(head) > auditBodyLimit {
		return nil
	}
	if isYAML {
		if head, err = yaml.YAMLToJSON(head); err != nil {
			return nil
		}
	}
	if !json.Valid(head) {
		return nil
	}
	return head
}

type readCloser struct {
	io.Reader
	io.Closer
}

// capturingWriter keeps the response's status and, for errors or when the level
// logs responses, its JSON body.
type capturingWriter struct {
	http.ResponseWriter
	status int
	keep   bool
	body   bytes.Buffer
	over   bool
}

func (c *capturingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *capturingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if (c.keep || c.status >= 400) && !c.over {
		if c.body.Len()+len(b) > auditBodyLimit {
			c.over = true
		} else {
			c.body.Write(b)
		}
	}
	return c.ResponseWriter.Write(b)
}

// Flush and Hijack reach through the library's audit writer, which hides them
// when the writer it wraps is not net/http's own.
func (c *capturingWriter) Flush() { _ = http.NewResponseController(c.ResponseWriter).Flush() }

func (c *capturingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(c.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the real writer.
func (c *capturingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// log records the response: an error's Status (message and reason: why a request
// was refused), and at RequestResponse the body.
func (c *capturingWriter) log(ac *k8saudit.AuditContext) {
	mt, _, _ := mime.ParseMediaType(c.Header().Get("Content-Type"))
	if c.over || c.body.Len() == 0 || !strings.HasSuffix(mt, "json") {
		return
	}
	var status *metav1.Status
	if c.status >= 400 {
		var s metav1.Status
		if json.Unmarshal(c.body.Bytes(), &s) == nil && s.Kind == "Status" {
			status = &s
		}
	}
	var obj *runtime.Unknown
	if c.keep {
		obj = &runtime.Unknown{Raw: bytes.Clone(c.body.Bytes()), ContentType: runtime.ContentTypeJSON}
	}
	if status != nil || obj != nil {
		ac.LogResponseObject(status, obj)
	}
}

// auditRequestObject names the object a create makes in the audit event (its name
// is not in the path), and logs it as decoded at the Request level, as Kubernetes'
// create handler does.
func (a *API) auditRequestObject(ctx context.Context, obj runtime.Object, q request) {
	if a.audit == nil || !k8saudit.AuditContextFrom(ctx).Enabled() {
		return
	}
	gvr := schema.GroupVersionResource{Group: q.Group, Version: q.Version, Resource: q.Resource}
	k8saudit.LogRequestObject(ctx, obj, gvr.GroupVersion(), gvr, q.Subresource, resources.Codecs)
}

// auditResponseObject logs the object a request answers with at the
// RequestResponse level, as JSON whatever format the client asked for.
func (a *API) auditResponseObject(ctx context.Context, obj runtime.Object, gv schema.GroupVersion) {
	if a.audit == nil || !k8saudit.AuditContextFrom(ctx).Enabled() {
		return
	}
	k8saudit.LogResponseObject(ctx, obj, gv, resources.Codecs)
}

// auditDecision records the authorizer's decision, as Kubernetes' authorization
// filter does.
func (a *API) auditDecision(ctx context.Context, allowed bool, why string) {
	if a.audit == nil {
		return
	}
	if allowed {
		k8saudit.AddAuditAnnotation(ctx, "authorization.k8s.io/decision", "allow")
		return
	}
	k8saudit.AddAuditAnnotations(ctx, "authorization.k8s.io/decision", "forbid", "authorization.k8s.io/reason", why)
}

// auditImpersonation records the user a request acts as.
func (a *API) auditImpersonation(ctx context.Context, as *auth.User) {
	if a.audit != nil {
		k8saudit.LogImpersonatedUser(ctx, userInfo(as), "")
	}
}

// auditedPlugin wraps an admission plugin so that the annotations it adds (Pod
// Security's audit violations, webhooks' and admission policies' audit
// annotations) reach the audit event; without an audit log it is the plugin.
func (a *API) auditedPlugin(p admissionapi.Interface) admissionapi.Interface {
	if a.audit == nil {
		return p
	}
	return admissionapi.WithAudit(p)
}
