package kubelet

import (
	"skiff/internal/kubelet/server"
	"skiff/internal/kubelet/stream"
)

// registerStreaming serves exec, attach and port-forward on the agent's endpoint.
func registerStreaming(k *Kubelet, srv *server.Server) {
	stream.Register(srv, k)
}
