// Package stream serves `kubectl exec`, `attach` and `port-forward` on the agent's
// HTTPS endpoint, behind the API server's proxy. Exec and attach are relayed to the
// container runtime's CRI streaming server: SPDY requests are proxied to it as they
// are, and WebSocket requests (kubectl's v5.channel.k8s.io, tried first since 1.30)
// are translated to SPDY here. Port-forward is served here over SPDY, plain or
// tunnelled through a WebSocket, by dialling the pod's address.
package stream

import "context"

// Runtime is what the handlers need from the node agent.
type Runtime interface {
	// Exec and Attach ask the container runtime to prepare a streaming session and
	// return the URL of its streaming server. Errors wrapping fs.ErrNotExist answer 404.
	Exec(ctx context.Context, ns, pod, container string, cmd []string, o Options) (string, error)
	Attach(ctx context.Context, ns, pod, container string, o Options) (string, error)
	// PodAddress is the address port-forward connects to (the pod IP).
	PodAddress(ctx context.Context, ns, pod string) (string, error)
}

// Options are the streams a session asks for.
type Options struct {
	Stdin, Stdout, Stderr, TTY bool
}
