package stream

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	pfconst "k8s.io/apimachinery/pkg/util/portforward"
	"k8s.io/client-go/tools/portforward"
)

// Headers of the portforward.k8s.io protocol: each forwarded connection is a pair
// of SPDY streams (error, then data) sharing a requestID.
const (
	hdrStreamType = "streamType"
	hdrPort       = "port"
	hdrRequestID  = "requestID"
	streamData    = "data"
	streamError   = "error"
)

var tunnelUpgrader = websocket.Upgrader{
	Subprotocols:    []string{pfconst.WebsocketsSPDYTunnelingPortForwardV1},
	ReadBufferSize:  32 << 10,
	WriteBufferSize: 32 << 10,
	CheckOrigin:     func(*http.Request) bool { return true },
}

// portForward serves one port-forward session: SPDY directly, or SPDY inside a
// WebSocket (kubectl's default since 1.31, subprotocol SPDY/3.1+portforward.k8s.io).
func (h *handlers) portForward(w http.ResponseWriter, r *http.Request) {
	ns, pod := r.PathValue("ns"), r.PathValue("pod")
	addr, err := h.rt.PodAddress(r.Context(), ns, pod)
	if err != nil {
		httpError(w, err)
		return
	}
	streams := make(chan httpstream.Stream, 8)
	onStream := func(s httpstream.Stream, _ <-chan struct{}) error {
		streams <- s
		return nil
	}
	var conn httpstream.Connection
	if wsstream.IsWebSocketRequestWithTunnelingProtocol(r) {
		ws, err := tunnelUpgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conn, err = spdy.NewServerConnection(portforward.NewTunnelingConnection("server", ws), onStream)
		if err != nil {
			slog.Warn("port-forward tunnel failed", "pod", ns+"/"+pod, "err", err)
			_ = ws.Close()
			return
		}
	} else {
		if _, err := httpstream.Handshake(r, w, []string{pfconst.PortForwardV1Name}); err != nil {
			return // Handshake has answered
		}
		conn = spdy.NewResponseUpgrader().UpgradeResponse(w, r, onStream)
		if conn == nil {
			return
		}
	}
	defer conn.Close()
	conn.SetIdleTimeout(4 * time.Hour)
	forwardStreams(r.Context(), conn, streams, addr, ns+"/"+pod)
}

type streamPair struct{ data, err httpstream.Stream }

// forwardStreams pairs the streams of each request and connects each pair to the
// pod's port, until the client closes the connection.
func forwardStreams(ctx context.Context, conn httpstream.Connection, streams <-chan httpstream.Stream, addr, pod string) {
	pairs := map[string]*streamPair{}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-conn.CloseChan():
			return
		case <-ctx.Done():
			return
		case s := <-streams:
			id := s.Headers().Get(hdrRequestID)
			p := pairs[id]
			if p == nil {
				p = &streamPair{}
				pairs[id] = p
			}
			switch s.Headers().Get(hdrStreamType) {
			case streamData:
				p.data = s
			case streamError:
				p.err = s
			default:
				_ = s.Reset()
				continue
			}
			if p.data == nil || p.err == nil {
				continue
			}
			delete(pairs, id)
			wg.Add(1)
			go func() {
				defer wg.Done()
				forwardOne(conn, p, addr, pod)
			}()
		}
	}
}

// forwardOne copies one connection between the client's data stream and the pod.
func forwardOne(conn httpstream.Connection, p *streamPair, addr, pod string) {
	defer conn.RemoveStreams(p.data, p.err)
	defer p.err.Close()
	portStr := p.data.Headers().Get(hdrPort)
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		fmt.Fprintf(p.err, "invalid port %q", portStr)
		_ = p.data.Reset()
		return
	}
	target, err := net.DialTimeout("tcp", net.JoinHostPort(addr, portStr), 10*time.Second)
	if err != nil {
		fmt.Fprintf(p.err, "error forwarding port %d to pod %s: %v", port, pod, err)
		_ = p.data.Reset()
		return
	}
	defer target.Close()
	go func() {
		_, _ = io.Copy(target, p.data) // client to pod
		if tc, ok := target.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	if _, err := io.Copy(p.data, target); err != nil { // pod to client
		slog.Debug("port-forward copy ended", "pod", pod, "port", port, "err", err)
	}
	// The pod closed its side: the connection is over, as in the kubelet; the
	// deferred closes stop the other copy.
	_ = p.data.Close()
}
