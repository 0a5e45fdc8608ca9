package stream

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
	restclient "k8s.io/client-go/rest"
	clientremote "k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// echoExecutor stands in for the container: it prints its command and exits with code.
type echoExecutor struct{ code int }

func (e echoExecutor) ExecInContainer(_ context.Context, _, _, _ string, cmd []string, _ io.Reader, out, _ io.WriteCloser, _ bool, _ <-chan remotecommand.TerminalSize, _ time.Duration) error {
	_, _ = io.WriteString(out, strings.Join(cmd, " "))
	if e.code != 0 {
		return utilexec.CodeExitError{Err: errors.New("exited"), Code: e.code}
	}
	return nil
}

// execRuntime prepares every exec on a fake runtime streaming server (SPDY, as
// containerd's is) that runs echoExecutor.
type execRuntime struct {
	fakeRuntime
	streaming string
}

func (f execRuntime) Exec(context.Context, string, string, string, []string, Options) (string, error) {
	return f.streaming + "/exec/token", nil
}

func newExecServer(t *testing.T, code int) *httptest.Server {
	t.Helper()
	runtimeSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		opts := &remotecommand.Options{Stdout: true, Stderr: true}
		remotecommand.ServeExec(w, r, echoExecutor{code}, "", "", "", []string{"remote", "execution", "test"}, opts, 0, 10*time.Second, remotecommand.SupportedStreamingProtocols)
	}))
	t.Cleanup(runtimeSrv.Close)
	m := mux{http.NewServeMux()}
	Register(m, execRuntime{streaming: runtimeSrv.URL})
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return srv
}

// TestExecOverWebSocketProtocols runs an exec through the handler with each
// WebSocket protocol a client may ask for and reads what each channel carried.
func TestExecOverWebSocketProtocols(t *testing.T) {
	tests := []struct {
		protocol   string
		code       int
		wantStdout string
		wantError  string // on channel 3; "" means nothing was sent there
	}{
		{protocol: "channel.k8s.io", wantStdout: "remote execution test"},
		{protocol: "base64.channel.k8s.io", wantStdout: "remote execution test"},
		{protocol: "channel.k8s.io", code: 3, wantStdout: "remote execution test", wantError: "command terminated with non-zero exit code"},
		{protocol: "v4.channel.k8s.io", wantStdout: "remote execution test", wantError: `"status":"Success"`},
		{protocol: "v4.base64.channel.k8s.io", code: 3, wantStdout: "remote execution test", wantError: `"reason":"NonZeroExitCode"`},
	}
	for _, tt := range tests {
		t.Run(tt.protocol, func(t *testing.T) {
			srv := newExecServer(t, tt.code)
			u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/exec/ns/pod/c?command=echo&stdout=1&stderr=1"
			cfg, err := websocket.NewConfig(u, srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Protocol = []string{tt.protocol}
			ws, err := websocket.DialConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			if got := ws.Config().Protocol; len(got) != 1 || got[0] != tt.protocol {
				t.Fatalf("negotiated %v, want %s", got, tt.protocol)
			}
			channels := map[byte]*bytes.Buffer{}
			for {
				var msg []byte
				if err := websocket.Message.Receive(ws, &msg); err != nil {
					break
				}
				if len(msg) == 0 {
					continue
				}
				ch, data := msg[0], msg[1:]
				if strings.Contains(tt.protocol, "base64") {
					ch -= '0'
					if data, err = base64.StdEncoding.DecodeString(string(data)); err != nil {
						t.Fatalf("channel %d: not base64: %v", ch, err)
					}
				}
				if channels[ch] == nil {
					channels[ch] = &bytes.Buffer{}
				}
				channels[ch].Write(data)
			}
			if got := channels[1].String(); got != tt.wantStdout {
				t.Errorf("stdout %q, want %q", got, tt.wantStdout)
			}
			gotErr := ""
			if channels[3] != nil {
				gotErr = channels[3].String()
			}
			if (tt.wantError == "") != (gotErr == "") || !strings.Contains(gotErr, tt.wantError) {
				t.Errorf("error channel %q, want %q", gotErr, tt.wantError)
			}
		})
	}
}

// TestExecOverWebSocketV5 is kubectl's way: client-go's WebSocket executor (v5).
func TestExecOverWebSocketV5(t *testing.T) {
	for _, code := range []int{0, 3} {
		srv := newExecServer(t, code)
		u, _ := url.Parse(srv.URL + "/exec/ns/pod/c?command=echo&stdout=1&stderr=1")
		exec, err := clientremote.NewWebSocketExecutor(&restclient.Config{Host: srv.URL}, http.MethodGet, u.String())
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err = exec.StreamWithContext(context.Background(), clientremote.StreamOptions{Stdout: &out, Stderr: io.Discard})
		var exitErr utilexec.ExitError
		gotCode := 0
		if errors.As(err, &exitErr) {
			gotCode = exitErr.ExitStatus()
		} else if err != nil {
			t.Fatal(err)
		}
		if out.String() != "remote execution test" || gotCode != code {
			t.Errorf("stdout %q exit %d, want %q %d", out.String(), gotCode, "remote execution test", code)
		}
	}
}
