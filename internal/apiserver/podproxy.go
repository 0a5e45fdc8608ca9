package apiserver

import (
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	utilproxy "k8s.io/apimachinery/pkg/util/proxy"
)

// proxyTransport reaches pods over the pod network. Like Kubernetes, the API server
// does not verify a pod's serving certificate when asked for https.
var proxyTransport = &http.Transport{
	Proxy:           nil,
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // pods have no names to verify
}

// servePodProxy answers pods/{[scheme:]name[:port]}/proxy/{path} and the same for
// services, forwarding the request to the pod (or one ready endpoint of the service)
// on the pod network, as Kubernetes' API server does.
func (a *API) servePodProxy(w http.ResponseWriter, r *http.Request, q request) {
	scheme, name, port, ok := utilnet.SplitSchemeNamePort(q.Name)
	if !ok {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("invalid %s request %q: want [scheme:]name[:port]", q.Resource, q.Name)))
		return
	}
	if scheme == "" {
		scheme = "http"
	}
	var hostPort string
	var err error
	if q.Resource == "pods" {
		hostPort, err = a.podLocation(r, q.Namespace, name, port)
	} else {
		hostPort, err = a.serviceLocation(r, q.Namespace, name, port)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	// An empty path stays empty, so that a GET of .../proxy is redirected to
	// .../proxy/ (relative links then resolve under the proxy); the handler keeps the
	// request's trailing slash, which splitting the name from the path dropped.
	path := ""
	if q.Rest != "" {
		path = "/" + q.Rest
	}
	target := &url.URL{Scheme: scheme, Host: hostPort, Path: path}
	h := utilproxy.NewUpgradeAwareHandler(target, proxyTransport, true, false, proxyResponder{what: singularOf(q.Resource), name: name})
	// The library's handler rewrites the links of HTML pages to go through the proxy
	// and answers GET/HEAD of the bare .../proxy with a redirect, as Kubernetes does.
	r.Header.Del("Authorization")
	h.ServeHTTP(w, r)
}

// proxyResponder reports a backend that cannot be reached as a 503 Status.
type proxyResponder struct{ what, name string }

func (p proxyResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("error trying to reach %s %q: %v", p.what, p.name, err)))
}

func singularOf(resource string) string { return resource[:len(resource)-1] }

// podLocation is the pod's IP and port: a number, a container port's name, or none.
func (a *API) podLocation(r *http.Request, ns, name, port string) (string, error) {
	obj, err := a.endpoints[corev1.SchemeGroupVersion.WithResource("pods")].store.Get(r.Context(), ns, name)
	if err != nil {
		return "", err
	}
	pod := obj.(*corev1.Pod)
	if pod.Status.PodIP == "" {
		return "", apierrors.NewServiceUnavailable(fmt.Sprintf("pod %s has no IP address yet", name))
	}
	if port == "" {
		// As in Kubernetes: the first declared container port, else plain port 80.
		for _, c := range pod.Spec.Containers {
			if len(c.Ports) > 0 {
				port = strconv.Itoa(int(c.Ports[0].ContainerPort))
				break
			}
		}
		if port == "" {
			return pod.Status.PodIP, nil
		}
	}
	if _, err := strconv.Atoi(port); err != nil {
		n, ok := namedContainerPort(pod, port)
		if !ok {
			return "", apierrors.NewBadRequest(fmt.Sprintf("pod %s has no container port named %q", name, port))
		}
		port = strconv.Itoa(int(n))
	}
	return net.JoinHostPort(pod.Status.PodIP, port), nil
}

func namedContainerPort(pod *corev1.Pod, name string) (int32, bool) {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}

// serviceLocation picks a ready endpoint of the service's port (named, numbered, or
// the only unnamed one) at random.
func (a *API) serviceLocation(r *http.Request, ns, name, port string) (string, error) {
	obj, err := a.endpoints[corev1.SchemeGroupVersion.WithResource("services")].store.Get(r.Context(), ns, name)
	if err != nil {
		return "", err
	}
	svc := obj.(*corev1.Service)
	portName := port
	if n, err := strconv.Atoi(port); err == nil {
		portName = ""
		found := false
		for _, sp := range svc.Spec.Ports {
			if int(sp.Port) == n {
				portName, found = sp.Name, true
			}
		}
		if !found {
			return "", apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %d found for service %q", n, name))
		}
	}
	epObj, err := a.endpoints[corev1.SchemeGroupVersion.WithResource("endpoints")].store.Get(r.Context(), ns, name)
	if err != nil {
		return "", apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", name))
	}
	var choices []string
	for _, ss := range epObj.(*corev1.Endpoints).Subsets {
		for _, p := range ss.Ports {
			if p.Name != portName {
				continue
			}
			for _, addr := range ss.Addresses {
				choices = append(choices, net.JoinHostPort(addr.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	if len(choices) == 0 {
		return "", apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", name))
	}
	return choices[rand.IntN(len(choices))], nil
}
