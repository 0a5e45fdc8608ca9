package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/remotecommand"
	restclient "k8s.io/client-go/rest"
	clientremote "k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
)

// Channels of the v5.channel.k8s.io WebSocket protocol: each binary message starts
// with the channel's number; a close message is 255 followed by the channel.
const (
	chanStdin  = 0
	chanStdout = 1
	chanStderr = 2
	chanError  = 3
	chanResize = 4
	chanClose  = 255
)

var execUpgrader = websocket.Upgrader{
	Subprotocols:    []string{remotecommand.StreamProtocolV5Name},
	ReadBufferSize:  32 << 10,
	WriteBufferSize: 32 << 10,
	// The API server authenticated and authorized the user; the browser origin
	// check does not apply to a proxied API request.
	CheckOrigin: func(*http.Request) bool { return true },
}

// wsConn serialises writes to one WebSocket.
type wsConn struct {
	c  *websocket.Conn
	mu sync.Mutex
}

func (w *wsConn) send(ch byte, p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	msg := make([]byte, len(p)+1)
	msg[0] = ch
	copy(msg[1:], p)
	return w.c.WriteMessage(websocket.BinaryMessage, msg)
}

type chanWriter struct {
	ws *wsConn
	ch byte
}

func (c chanWriter) Write(p []byte) (int, error) {
	if err := c.ws.send(c.ch, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// sizeQueue hands terminal resizes from the client to the SPDY executor.
type sizeQueue struct {
	ch   chan clientremote.TerminalSize
	done <-chan struct{}
}

func (q *sizeQueue) Next() *clientremote.TerminalSize {
	select {
	case s := <-q.ch:
		return &s
	case <-q.done:
		return nil
	}
}

// serveWebSocketExec speaks kubectl's WebSocket exec protocol (v5) to the client
// and SPDY to the runtime, and reports the command's exit status on the error channel.
func serveWebSocketExec(w http.ResponseWriter, r *http.Request, target *url.URL, o Options) {
	conn, err := execUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	defer conn.Close()
	ws := &wsConn{c: conn}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	stdinR, stdinW := io.Pipe()
	sizes := &sizeQueue{ch: make(chan clientremote.TerminalSize, 4), done: ctx.Done()}
	go readClient(ctx, cancel, conn, stdinW, sizes)

	opts := clientremote.StreamOptions{Tty: o.TTY}
	if o.Stdin {
		opts.Stdin = stdinR
	}
	if o.Stdout {
		opts.Stdout = chanWriter{ws, chanStdout}
	}
	if o.Stderr {
		opts.Stderr = chanWriter{ws, chanStderr}
	}
	if o.TTY {
		opts.TerminalSizeQueue = sizes
	}
	exec, err := clientremote.NewSPDYExecutor(&restclient.Config{}, http.MethodPost, target)
	if err == nil {
		err = exec.StreamWithContext(ctx, opts)
	}
	_ = stdinR.Close()
	st := exitStatus(err)
	if b, merr := json.Marshal(st); merr == nil {
		_ = ws.send(chanError, b)
	}
	ws.mu.Lock()
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	ws.mu.Unlock()
}

// readClient demultiplexes what the client sends: stdin, resizes and the closing
// of stdin. It ends the session when the client goes away.
func readClient(ctx context.Context, cancel context.CancelFunc, conn *websocket.Conn, stdin *io.PipeWriter, sizes *sizeQueue) {
	defer stdin.Close()
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			// The client closed or lost the connection: nobody reads the output
			// any more, so end the session.
			cancel()
			return
		}
		if len(msg) == 0 {
			continue
		}
		switch msg[0] {
		case chanStdin:
			if _, err := stdin.Write(msg[1:]); err != nil {
				slog.Debug("exec stdin closed", "err", err)
			}
		case chanResize:
			var s clientremote.TerminalSize
			if json.Unmarshal(msg[1:], &s) == nil {
				select {
				case sizes.ch <- s:
				case <-ctx.Done():
					return
				}
			}
		case chanClose:
			if len(msg) > 1 && msg[1] == chanStdin {
				_ = stdin.Close()
			}
		}
	}
}

// exitStatus is the metav1.Status the v5 protocol sends on the error channel.
func exitStatus(err error) metav1.Status {
	st := metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}}
	var exitErr utilexec.ExitError
	switch {
	case err == nil:
		st.Status = metav1.StatusSuccess
	case errors.As(err, &exitErr) && exitErr.Exited():
		st.Status = metav1.StatusFailure
		st.Reason = "NonZeroExitCode"
		st.Message = fmt.Sprintf("command terminated with non-zero exit code: %v", err)
		st.Details = &metav1.StatusDetails{Causes: []metav1.StatusCause{{
			Type: "ExitCode", Message: strconv.Itoa(exitErr.ExitStatus())}}}
	default:
		st.Status = metav1.StatusFailure
		st.Message = err.Error()
	}
	return st
}
