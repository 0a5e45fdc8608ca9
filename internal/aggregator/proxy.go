// Package aggregator serves apiregistration.k8s.io APIServices: requests for an
// APIService's group and version go to its Service through a reverse proxy that says
// who the user is in front-proxy headers, and a loop keeps each APIService's
// Available condition in step with whether its backend answers.
package aggregator

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	listers "k8s.io/kube-aggregator/pkg/client/listers/apiregistration/v1"

	"skiff/internal/auth"
)

// ServiceResolver finds where a Service's port is served (a ready endpoint's pod IP
// and target port).
type ServiceResolver interface {
	ResolveEndpoint(namespace, name string, port int32) (*url.URL, error)
}

// Proxy forwards requests for aggregated group/versions.
type Proxy struct {
	apiServices listers.APIServiceLister
	resolver    ServiceResolver
	// clientCert is the front-proxy client certificate: backends trust the
	// X-Remote-* headers of a caller that presents it.
	clientCert tls.Certificate

	mu sync.Mutex
	// discovery holds the resource list each backend last answered, by APIService
	// name, for the API server's discovery documents.
	discovery map[string]*metav1.APIResourceList
	// transports are kept per APIService name.
	transports map[string]cachedTransport
}

// NewProxy returns a proxy that reads APIServices from lister.
func NewProxy(lister listers.APIServiceLister, resolver ServiceResolver, clientCert tls.Certificate) *Proxy {
	return &Proxy{apiServices: lister, resolver: resolver, clientCert: clientCert,
		discovery: map[string]*metav1.APIResourceList{}, transports: map[string]cachedTransport{}}
}

// For returns the APIService that claims path (/apis/GROUP/VERSION/...) and is served
// by a Service; nil when skiff serves the path itself.
func (p *Proxy) For(path string) *apiregistrationv1.APIService {
	parts := strings.SplitN(strings.TrimPrefix(path, "/apis/"), "/", 3)
	if !strings.HasPrefix(path, "/apis/") || len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return nil
	}
	svc, err := p.apiServices.Get(parts[1] + "." + parts[0])
	if err != nil || svc.Spec.Service == nil {
		return nil
	}
	return svc
}

// Serve proxies r, made by user, to the backend of svc.
func (p *Proxy) Serve(w http.ResponseWriter, r *http.Request, svc *apiregistrationv1.APIService, user *auth.User) {
	target, tr, err := p.backend(svc)
	if err != nil {
		writeStatus(w, apierrors.NewServiceUnavailable(err.Error()))
		return
	}
	rp := &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			frontProxyHeaders(pr.Out.Header, user)
		},
		FlushInterval: -1, // watches stream
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeStatus(w, apierrors.NewServiceUnavailable(fmt.Sprintf("the backend of %s did not answer: %v", svc.Name, err)))
		},
	}
	rp.ServeHTTP(w, r)
}

// frontProxyHeaders replaces the caller's credentials with the identity the API
// server established, in the headers Kubernetes' request-header authentication reads.
func frontProxyHeaders(h http.Header, user *auth.User) {
	h.Del("Authorization")
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-remote-") || strings.HasPrefix(strings.ToLower(k), "impersonate-") {
			h.Del(k)
		}
	}
	if user == nil {
		return
	}
	h.Set("X-Remote-User", user.Name)
	for _, g := range user.Groups {
		h.Add("X-Remote-Group", g)
	}
	if user.UID != "" {
		h.Set("X-Remote-Uid", user.UID)
	}
}

// backend resolves svc's Service to an address and the transport that reaches it:
// TLS verified against the APIService's caBundle under the Service's DNS name (or
// not verified when insecureSkipTLSVerify says so), presenting the front-proxy cert.
func (p *Proxy) backend(svc *apiregistrationv1.APIService) (*url.URL, *http.Transport, error) {
	ref := svc.Spec.Service
	port := int32(443)
	if ref.Port != nil {
		port = *ref.Port
	}
	target, err := p.resolver.ResolveEndpoint(ref.Namespace, ref.Name, port)
	if err != nil {
		return nil, nil, err
	}
	tr, err := p.transport(svc)
	return target, tr, err
}

// transport returns the transport for svc, reused while its TLS settings stay the
// same so that connections to the backend are kept alive between requests.
func (p *Proxy) transport(svc *apiregistrationv1.APIService) (*http.Transport, error) {
	ref := svc.Spec.Service
	serverName := ref.Name + "." + ref.Namespace + ".svc"
	key := fmt.Sprintf("%s|%v|%s", serverName, svc.Spec.InsecureSkipTLSVerify, svc.Spec.CABundle)
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.transports[svc.Name]; ok && c.key == key {
		return c.tr, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		Certificates:       []tls.Certificate{p.clientCert},
		ServerName:         serverName,
		InsecureSkipVerify: svc.Spec.InsecureSkipTLSVerify, //nolint:gosec // the APIService asks for it, as in Kubernetes
	}
	if len(svc.Spec.CABundle) > 0 {
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(svc.Spec.CABundle) {
			return nil, fmt.Errorf("APIService %s: spec.caBundle holds no PEM certificate", svc.Name)
		}
	}
	if c, ok := p.transports[svc.Name]; ok {
		c.tr.CloseIdleConnections()
	}
	tr := &http.Transport{TLSClientConfig: cfg, ResponseHeaderTimeout: 30 * time.Second, ForceAttemptHTTP2: true, IdleConnTimeout: 90 * time.Second}
	p.transports[svc.Name] = cachedTransport{key: key, tr: tr}
	return tr, nil
}

type cachedTransport struct {
	key string // the TLS settings tr was built with
	tr  *http.Transport
}

func writeStatus(w http.ResponseWriter, err *apierrors.StatusError) {
	st := err.Status()
	st.Kind, st.APIVersion = "Status", "v1"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	_ = json.NewEncoder(w).Encode(&st)
}

// GroupVersions are the group/versions APIServices hand to other servers, for
// discovery to list beside skiff's own.
func (p *Proxy) GroupVersions() []schema.GroupVersion {
	list, _ := p.apiServices.List(labels.Everything())
	var out []schema.GroupVersion
	for _, svc := range list {
		if svc.Spec.Service != nil {
			out = append(out, schema.GroupVersion{Group: svc.Spec.Group, Version: svc.Spec.Version})
		}
	}
	slices.SortFunc(out, func(a, b schema.GroupVersion) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// Resources is the resource list the backend of gv last answered; nil when it has
// not answered (discovery then marks the version stale, as Kubernetes does).
func (p *Proxy) Resources(gv schema.GroupVersion) *metav1.APIResourceList {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.discovery[gv.Version+"."+gv.Group]
}

func (p *Proxy) setResources(name string, list *metav1.APIResourceList) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if list == nil {
		delete(p.discovery, name)
		return
	}
	p.discovery[name] = list
}
