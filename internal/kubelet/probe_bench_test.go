package kubelet

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// benchProbe measures one probe run against a loopback server, both sides' CPU
// included. 500 pods each probed every 10s make 50 runs a second, so the agent's
// probe overhead is about 50 × cpu-ns/op of CPU per second (an upper bound: the
// server's share counts too).
func benchProbe(b *testing.B, handler func(port int32) corev1.ProbeHandler) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	host, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	p := &corev1.Probe{ProbeHandler: handler(int32(port)), TimeoutSeconds: 1}
	t := probeTarget{Host: host, Container: &corev1.Container{Name: "app"}}
	b.ReportAllocs()
	before := processCPU()
	for b.Loop() {
		if ok, msg := runProbe(context.Background(), nil, p, t); !ok {
			b.Fatal(msg)
		}
	}
	// CPU time, unlike ns/op, does not grow when the machine is busy with other work.
	b.ReportMetric(float64(processCPU()-before)/float64(b.N), "cpu-ns/op")
}

// processCPU is the user and system CPU time this process has used, in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func BenchmarkHTTPProbe(b *testing.B) {
	benchProbe(b, func(port int32) corev1.ProbeHandler {
		return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(port)}}
	})
}

func BenchmarkTCPProbe(b *testing.B) {
	benchProbe(b, func(port int32) corev1.ProbeHandler {
		return corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(port)}}
	})
}
