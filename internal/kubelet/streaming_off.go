//go:build !skiff_streaming

package kubelet

import (
	"log/slog"

	"skiff/internal/kubelet/server"
)

// registerStreaming is off until the module requires k8s.io/streaming (SPDY and
// WebSocket streams); build with -tags skiff_streaming to serve exec, attach and
// port-forward.
func registerStreaming(_ *Kubelet, _ *server.Server) {
	slog.Warn("kubectl exec, attach and port-forward are not built into this agent (build tag skiff_streaming)")
}
