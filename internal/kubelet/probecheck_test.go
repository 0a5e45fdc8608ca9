package kubelet

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestRunProbeHTTPAndTCP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/fail":
			w.WriteHeader(http.StatusInternalServerError)
		case r.Header.Get("X-Probe") != "yes" || r.Host != "example.test" || r.Header.Get("Connection") != "close":
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	host, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	c := &corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: int32(port)}}}
	headers := []corev1.HTTPHeader{{Name: "X-Probe", Value: "yes"}, {Name: "Host", Value: "example.test"}}
	closed := freePort(t)
	tests := []struct {
		name    string
		probe   corev1.ProbeHandler
		wantOK  bool
		wantMsg string
	}{
		{name: "http ok by port name with headers and host",
			probe:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("web"), HTTPHeaders: headers}},
			wantOK: true},
		{name: "http 500",
			probe:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/fail", Port: intstr.FromInt32(int32(port))}},
			wantMsg: "HTTP probe failed with statuscode: 500"},
		{name: "http unknown port name",
			probe:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("nope")}},
			wantMsg: `container app has no port named "nope"`},
		{name: "tcp open", probe: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}, wantOK: true},
		{name: "tcp closed", probe: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(closed))}},
			wantMsg: "dial tcp " + net.JoinHostPort(host, strconv.Itoa(closed)) + ": connect: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &corev1.Probe{ProbeHandler: tt.probe, TimeoutSeconds: 2}
			ok, msg := runProbe(context.Background(), nil, p, probeTarget{Host: host, Container: c})
			if ok != tt.wantOK || msg != tt.wantMsg {
				t.Fatalf("runProbe = %v, %q; want %v, %q", ok, msg, tt.wantOK, tt.wantMsg)
			}
		})
	}
}

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}
