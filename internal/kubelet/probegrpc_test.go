package kubelet

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
)

func TestRunProbeGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("down", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	go func() { _ = s.Serve(ln) }()
	defer s.Stop()
	port := int32(ln.Addr().(*net.TCPAddr).Port)
	down := "down"
	tests := []struct {
		name    string
		service *string
		wantOK  bool
		wantMsg string
	}{
		{name: "serving", wantOK: true},
		{name: "not serving", service: &down, wantMsg: `service unhealthy (responded with "NOT_SERVING")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: port, Service: tt.service}}, TimeoutSeconds: 2}
			ok, msg := runProbe(context.Background(), nil, p, probeTarget{Host: "127.0.0.1", Container: &corev1.Container{}})
			if ok != tt.wantOK || msg != tt.wantMsg {
				t.Fatalf("runProbe = %v, %q; want %v, %q", ok, msg, tt.wantOK, tt.wantMsg)
			}
		})
	}
}
