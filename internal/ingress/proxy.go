package ingress

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"
)

// maxAttempts bounds how many endpoints one request tries.
const maxAttempts = 3

type backendKey struct{}

// handler serves the listeners of the controller, plain and TLS alike.
type handler struct {
	c         *Controller
	httpsPort string // "" when HTTPS is off: nothing to redirect to
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	h.serve(rec, r)
	h.c.metrics.observe(rec.status, time.Since(start))
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request) {
	t := h.c.table.Load()
	host := requestHost(r.Host)
	if r.TLS == nil && h.httpsPort != "" && t.tlsHosts.has(host) {
		redirect(w, r, host, h.httpsPort)
		return
	}
	b := t.match(host, r.URL.Path)
	if b == nil {
		page(w, http.StatusNotFound, "No Ingress rule matches this request",
			fmt.Sprintf("No Ingress rule matches host %q and path %q, and no Ingress has a defaultBackend.", host, r.URL.Path))
		return
	}
	if len(b.endpoints) == 0 {
		page(w, http.StatusServiceUnavailable, "Service unavailable",
			fmt.Sprintf("The backend %s for host %q and path %q has no ready endpoints (%s).", b.name, host, r.URL.Path, b.reason))
		return
	}
	h.c.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, b)))
}

// redirect sends a permanent redirect that keeps the method and body (308).
func redirect(w http.ResponseWriter, r *http.Request, host, port string) {
	authority := host
	if port != "443" {
		authority = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		authority = "[" + host + "]" // an IPv6 literal
	}
	http.Redirect(w, r, "https://"+authority+r.URL.RequestURI(), http.StatusPermanentRedirect)
}

// newReverseProxy builds the one proxy every request goes through. The endpoint is
// chosen by the transport, so that a failed connection can move to another one.
func newReverseProxy(log *slog.Logger) *httputil.ReverseProxy {
	base := &http.Transport{
		Proxy:                 nil, // never through the host's HTTP proxy
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "backend" // replaced by the transport
			pr.Out.Host = pr.In.Host    // applications see the name the client used
			pr.SetXForwarded()
		},
		Transport: &retryTransport{base: base},
		// -1 flushes every write: server-sent events, long polls and chunked
		// streams reach the client as the backend produces them.
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client went away; nobody reads an error page
			}
			b, _ := r.Context().Value(backendKey{}).(*backend)
			log.Debug("proxy error", "backend", b.name, "err", err)
			page(w, http.StatusBadGateway, "Bad gateway",
				fmt.Sprintf("The backend %s could not be reached: %v", b.name, err))
		},
	}
}

// retryTransport sends a request to the backend's next endpoint and, when the
// connection fails, to another. A request is retried only when nothing of it can
// have reached the application: the dial failed, or it is idempotent and has no
// body to replay.
type retryTransport struct {
	base http.RoundTripper
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	b, ok := req.Context().Value(backendKey{}).(*backend)
	if !ok {
		return nil, errors.New("ingress: request without backend")
	}
	var err error
	for _, ep := range b.pick(maxAttempts) {
		out := req.WithContext(req.Context())
		u := *req.URL
		u.Host = ep
		out.URL = &u
		var resp *http.Response
		resp, err = t.base.RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		if !retryable(req, err) {
			return nil, err
		}
	}
	return nil, err
}

func retryable(req *http.Request, err error) bool {
	if req.Context().Err() != nil {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody {
		return false // the body is consumed; it cannot be sent again
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return idempotent(req.Method)
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// page writes a small HTML error page that names what was asked for, so that a
// user looking at a browser knows which rule to fix.
func page(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n<body><h1>%d %s</h1>\n<p>%s</p>\n<hr><p>skiff ingress</p></body></html>\n",
		status, html.EscapeString(title), status, html.EscapeString(title), html.EscapeString(detail))
}

// recorder notes the status code for metrics. It unwraps to the real writer so
// that the proxy can still flush streams and hijack upgraded connections.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, code >= 200 || code == http.StatusSwitchingProtocols
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(p)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
