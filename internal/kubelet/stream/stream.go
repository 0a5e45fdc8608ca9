package stream

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"

	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
)

// Mux is where routes go (the agent's server.Server).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Register adds the exec, attach and port-forward routes the API server proxies to.
func Register(mux Mux, rt Runtime) {
	h := &handlers{rt: rt}
	for _, m := range []string{"GET", "POST"} {
		mux.Handle(m+" /exec/{ns}/{pod}/{container}", http.HandlerFunc(h.exec))
		mux.Handle(m+" /attach/{ns}/{pod}/{container}", http.HandlerFunc(h.attach))
		mux.Handle(m+" /portForward/{ns}/{pod}", http.HandlerFunc(h.portForward))
	}
}

type handlers struct{ rt Runtime }

func options(r *http.Request) Options {
	q := r.URL.Query()
	on := func(k string) bool { v := q.Get(k); return v == "true" || v == "1" }
	o := Options{Stdin: on("stdin"), Stdout: on("stdout"), Stderr: on("stderr"), TTY: on("tty")}
	if o.TTY {
		o.Stderr = false // a terminal merges stderr into stdout
	}
	return o
}

func (h *handlers) exec(w http.ResponseWriter, r *http.Request) {
	o := options(r)
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "exec needs a command", http.StatusBadRequest)
		return
	}
	u, err := h.rt.Exec(r.Context(), r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"), cmd, o)
	h.relay(w, r, u, o, cmd, err)
}

func (h *handlers) attach(w http.ResponseWriter, r *http.Request) {
	o := options(r)
	u, err := h.rt.Attach(r.Context(), r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"), o)
	h.relay(w, r, u, o, nil, err)
}

// relay connects the client to the runtime's streaming session at rawURL: an exec
// of cmd, or an attach when cmd is nil.
func (h *handlers) relay(w http.ResponseWriter, r *http.Request, rawURL string, o Options, cmd []string, err error) {
	if err != nil {
		httpError(w, err)
		return
	}
	target, err := url.Parse(rawURL)
	if err != nil {
		http.Error(w, fmt.Sprintf("runtime returned a bad streaming URL: %v", err), http.StatusInternalServerError)
		return
	}
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(r) {
		serveWebSocketExec(w, r, target, o) // v5.channel.k8s.io
		return
	}
	if wsstream.IsWebSocketRequest(r) {
		serveLegacyWebSocket(w, r, target, o, cmd)
		return
	}
	// SPDY: the runtime's streaming server speaks it; pass the upgrade through.
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = target
			pr.Out.Host = target.Host
			pr.Out.Method = http.MethodPost
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			slog.Warn("relaying a stream to the runtime failed", "url", target.Redacted(), "err", err)
			http.Error(w, err.Error(), http.StatusBadGateway)
		},
	}
	proxy.ServeHTTP(w, r)
}

func httpError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, fs.ErrNotExist) {
		code = http.StatusNotFound
	}
	http.Error(w, err.Error(), code)
}
