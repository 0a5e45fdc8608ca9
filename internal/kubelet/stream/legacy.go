package stream

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"time"

	restclient "k8s.io/client-go/rest"
	clientremote "k8s.io/client-go/tools/remotecommand"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// The WebSocket protocols older than v5 (channel.k8s.io, base64.channel.k8s.io and
// their v4 forms, which browsers and older clients speak) are served by the kubelet's
// own streaming library; the session it opens is relayed to the runtime over SPDY.

// streamCreationTimeout bounds how long the library waits for a client's streams.
const streamCreationTimeout = 30 * time.Second

// serveLegacyWebSocket serves an exec (cmd given) or attach over a pre-v5 WebSocket.
func serveLegacyWebSocket(w http.ResponseWriter, r *http.Request, target *url.URL, o Options, cmd []string) {
	relay := spdyRelay{target: target, o: o}
	opts := &remotecommand.Options{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, TTY: o.TTY}
	if cmd != nil {
		remotecommand.ServeExec(w, r, relay, "", "", "", cmd, opts, 0, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
		return
	}
	remotecommand.ServeAttach(w, r, relay, "", "", "", opts, 0, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

// spdyRelay runs a session on the runtime's streaming server at target, which was
// prepared for exactly the streams in o.
type spdyRelay struct {
	target *url.URL
	o      Options
}

func (s spdyRelay) ExecInContainer(ctx context.Context, _, _, _ string, _ []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	return s.stream(ctx, in, out, errw, resize)
}

func (s spdyRelay) AttachContainer(ctx context.Context, _, _, _ string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	return s.stream(ctx, in, out, errw, resize)
}

func (s spdyRelay) stream(ctx context.Context, in io.Reader, out, errw io.Writer, resize <-chan remotecommand.TerminalSize) error {
	opts := clientremote.StreamOptions{Tty: s.o.TTY}
	if s.o.Stdin {
		opts.Stdin = in
	}
	if s.o.Stdout {
		opts.Stdout = out
	}
	if s.o.Stderr {
		opts.Stderr = errw
	}
	if s.o.TTY && resize != nil {
		opts.TerminalSizeQueue = resizeQueue{ctx: ctx, ch: resize}
	}
	exec, err := clientremote.NewSPDYExecutor(&restclient.Config{}, http.MethodPost, s.target)
	if err != nil {
		return err
	}
	return exec.StreamWithContext(ctx, opts)
}

// resizeQueue hands the library's terminal resizes to the SPDY executor.
type resizeQueue struct {
	ctx context.Context
	ch  <-chan remotecommand.TerminalSize
}

func (q resizeQueue) Next() *clientremote.TerminalSize {
	select {
	case s, ok := <-q.ch:
		if !ok {
			return nil
		}
		return &clientremote.TerminalSize{Width: s.Width, Height: s.Height}
	case <-q.ctx.Done():
		return nil
	}
}
