package apiserver

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
)

// kubeletPaths maps pod subresources to the node agent's endpoints, which are those of
// the kubelet: /containerLogs, /exec, /attach, /portForward.
var kubeletPaths = map[string]string{
	"log": "containerLogs", "exec": "exec", "attach": "attach", "portforward": "portForward",
}

// nodeProxy forwards pod streaming subresources to the agent of the pod's node, over
// TLS with the API server's own client certificate.
type nodeProxy struct {
	api       *API
	transport *http.Transport
}

func newNodeProxy(api *API, clientCert tls.Certificate, tlsConfig *tls.Config) *nodeProxy {
	cfg := tlsConfig.Clone()
	cfg.Certificates = []tls.Certificate{clientCert}
	cfg.NextProtos = []string{"http/1.1"} // streams upgrade the connection; HTTP/2 cannot
	return &nodeProxy{api: api, transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: false}}
}

func (p *nodeProxy) serve(w http.ResponseWriter, r *http.Request, q request) {
	if q.Resource == "nodes" && q.Subresource == "proxy" {
		p.serveNode(w, r, q)
		return
	}
	kubeletPath, ok := kubeletPaths[q.Subresource]
	if !ok || q.Resource != "pods" {
		writeError(w, apierrors.NewNotFound(podsGR, q.Name))
		return
	}
	obj, err := p.api.endpoints[corev1.SchemeGroupVersion.WithResource("pods")].store.Get(r.Context(), q.Namespace, q.Name)
	if err != nil {
		writeError(w, err)
		return
	}
	pod := obj.(*corev1.Pod)
	if pod.Spec.NodeName == "" {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name)))
		return
	}
	target, err := p.nodeURL(r, pod.Spec.NodeName)
	if err != nil {
		writeError(w, err)
		return
	}
	qs := r.URL.Query()
	path := "/" + kubeletPath + "/" + pod.Namespace + "/" + pod.Name
	if q.Subresource != "portforward" {
		container, err := containerOf(pod, qs.Get("container"))
		if err != nil {
			writeError(w, err)
			return
		}
		path += "/" + container
	}
	target.Path = path
	target.RawQuery = qs.Encode()
	if q.Subresource == "log" && wsstream.IsWebSocketRequest(r) {
		p.serveLogWebSocket(w, r, target, pod.Spec.NodeName)
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = target
			pr.Out.Host = target.Host
			pr.Out.Header.Del("Authorization")
		},
		Transport:     p.transport,
		FlushInterval: -1, // stream logs and exec output as they come
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s's agent is unreachable: %v", pod.Spec.NodeName, err)))
		},
	}
	rp.ServeHTTP(w, r)
}

var podsGR = corev1.SchemeGroupVersion.WithResource("pods").GroupResource()

// serveLogWebSocket answers a pods/log request made as a WebSocket (binary.k8s.io or
// base64.binary.k8s.io, as browsers ask): the log is read from the agent over plain
// HTTPS and sent on as WebSocket messages, as Kubernetes' API server does.
func (p *nodeProxy) serveLogWebSocket(w http.ResponseWriter, r *http.Request, target *url.URL, node string) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, target.String(), nil)
	if err != nil {
		writeError(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	resp, err := (&http.Client{Transport: p.transport}).Do(req)
	if err != nil {
		writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s's agent is unreachable: %v", node, err)))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// The agent's answer (a missing container, a bad parameter) as it is.
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return
	}
	if err := wsstream.NewReader(resp.Body, true, wsstream.NewDefaultReaderProtocols()).Copy(w, r); err != nil {
		slog.Debug("streaming a log over a WebSocket ended", "err", err)
	}
}

// serveNode answers nodes/{name}/proxy/{path}: the path on the node's agent
// (/metrics, /stats/summary, /healthz), as Kubernetes proxies to the kubelet.
func (p *nodeProxy) serveNode(w http.ResponseWriter, r *http.Request, q request) {
	target, err := p.nodeURL(r, q.Name)
	if err != nil {
		writeError(w, err)
		return
	}
	target.Path = "/" + q.Rest
	target.RawQuery = r.URL.RawQuery
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = target
			pr.Out.Host = target.Host
			pr.Out.Header.Del("Authorization")
		},
		Transport: p.transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s's agent is unreachable: %v", q.Name, err)))
		},
	}
	rp.ServeHTTP(w, r)
}

// nodeURL is the agent endpoint of a node: its InternalIP and kubelet port.
func (p *nodeProxy) nodeURL(r *http.Request, nodeName string) (*url.URL, error) {
	obj, err := p.api.endpoints[corev1.SchemeGroupVersion.WithResource("nodes")].store.Get(r.Context(), "", nodeName)
	if err != nil {
		return nil, err
	}
	node := obj.(*corev1.Node)
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	host := ""
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName} {
		for _, a := range node.Status.Addresses {
			if a.Type == t && host == "" {
				host = a.Address
			}
		}
	}
	if host == "" || port == 0 {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %s has not reported its agent's address yet", nodeName))
	}
	return &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(int(port)))}, nil
}

// containerOf picks the container a request means: the named one, or the only one.
func containerOf(pod *corev1.Pod, name string) (string, error) {
	var names []string
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if name == c.Name {
			return name, nil
		}
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if name == c.Name {
			return name, nil
		}
	}
	if name != "" {
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
	}
	if len(pod.Spec.Containers) == 1 {
		return pod.Spec.Containers[0].Name, nil
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, strings.Join(names, " ")))
}
