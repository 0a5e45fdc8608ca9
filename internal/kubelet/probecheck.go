package kubelet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	internalapi "k8s.io/cri-api/pkg/apis"

	"skiff/internal/kubelet/cri"
)

// probeUserAgent is what HTTP probes send unless the probe sets its own.
const probeUserAgent = "kube-probe/1.37"

// probeTarget is where a probe runs: the container's run and the pod's address.
type probeTarget struct {
	ContainerID string
	Host        string // pod IP (node IP for host-network pods)
	Container   *corev1.Container
}

// runProbe runs p once and returns whether it passed and, when not, the message
// Kubernetes shows after "<Kind> probe failed: ".
func runProbe(ctx context.Context, rt internalapi.RuntimeService, p *corev1.Probe, t probeTarget) (bool, string) {
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.Exec != nil:
		return execProbe(ctx, rt, p.Exec, t.ContainerID, timeout)
	case p.HTTPGet != nil:
		return httpProbe(ctx, p.HTTPGet, t, timeout)
	case p.TCPSocket != nil:
		return tcpProbe(ctx, p.TCPSocket, t)
	case p.GRPC != nil:
		return grpcProbe(ctx, p.GRPC, t)
	}
	return true, ""
}

func execProbe(ctx context.Context, rt internalapi.RuntimeService, e *corev1.ExecAction, id string, timeout time.Duration) (bool, string) {
	stdout, stderr, err := rt.ExecSync(ctx, id, e.Command, timeout)
	var exit *cri.ExitError
	switch {
	case errors.As(err, &exit):
		return false, strings.TrimSpace(string(stdout) + string(stderr))
	case err != nil && ctx.Err() != nil:
		return false, fmt.Sprintf("command %q timed out", strings.Join(e.Command, " "))
	case err != nil:
		return false, err.Error()
	}
	return true, ""
}

func httpProbe(ctx context.Context, g *corev1.HTTPGetAction, t probeTarget, timeout time.Duration) (bool, string) {
	host := g.Host
	if host == "" {
		host = t.Host
	}
	port, err := resolvePort(g.Port, t.Container)
	if err != nil {
		return false, err.Error()
	}
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	url := fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, strconv.Itoa(port)), path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", probeUserAgent)
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Set(h.Name, h.Value)
	}
	// A new transport per probe with keep-alive off: probes must not hold idle
	// connections open in thousands of pods.
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // Kubernetes probes skip verification
	}}
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusBadRequest {
		return false, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)
	}
	return true, ""
}

func tcpProbe(ctx context.Context, s *corev1.TCPSocketAction, t probeTarget) (bool, string) {
	host := s.Host
	if host == "" {
		host = t.Host
	}
	port, err := resolvePort(s.Port, t.Container)
	if err != nil {
		return false, err.Error()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false, err.Error()
	}
	_ = conn.Close()
	return true, ""
}

func grpcProbe(ctx context.Context, g *corev1.GRPCAction, t probeTarget) (bool, string) {
	addr := net.JoinHostPort(t.Host, strconv.Itoa(int(g.Port)))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUserAgent(probeUserAgent))
	if err != nil {
		return false, err.Error()
	}
	defer conn.Close()
	service := ""
	if g.Service != nil {
		service = *g.Service
	}
	r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return false, "timeout: health rpc did not complete within the probe timeout"
		}
		return false, fmt.Sprintf("error: health rpc probe failed: %v", err)
	}
	if r.Status != healthpb.HealthCheckResponse_SERVING {
		return false, fmt.Sprintf("service unhealthy (responded with %q)", r.Status.String())
	}
	return true, ""
}
