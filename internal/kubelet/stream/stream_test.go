package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	utilexec "k8s.io/client-go/util/exec"
)

type fakeRuntime struct{ addr string }

func (f fakeRuntime) Exec(context.Context, string, string, string, []string, Options) (string, error) {
	return "", errors.New("not here")
}
func (f fakeRuntime) Attach(context.Context, string, string, string, Options) (string, error) {
	return "", errors.New("not here")
}
func (f fakeRuntime) PodAddress(context.Context, string, string) (string, error) { return f.addr, nil }

type mux struct{ *http.ServeMux }

func (m mux) Handle(p string, h http.Handler) { m.ServeMux.Handle(p, h) }

// TestPortForward forwards a local port to an echo server through the handler, over
// plain SPDY and over SPDY tunnelled in a WebSocket (kubectl's default).
func TestPortForward(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	m := mux{http.NewServeMux()}
	Register(m, fakeRuntime{addr: "127.0.0.1"})
	srv := httptest.NewServer(m)
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/portForward/ns/pod")
	cfg := &restclient.Config{Host: srv.URL}
	port := echo.Addr().(*net.TCPAddr).Port

	for _, tunnel := range []bool{false, true} {
		t.Run(fmt.Sprintf("tunnel=%v", tunnel), func(t *testing.T) {
			tr, up, err := spdy.RoundTripperFor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			dialer := spdy.NewDialer(up, &http.Client{Transport: tr}, http.MethodPost, u)
			if tunnel {
				if dialer, err = portforward.NewSPDYOverWebsocketDialer(u, cfg); err != nil {
					t.Fatal(err)
				}
			}
			stop, ready := make(chan struct{}), make(chan struct{})
			fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, stop, ready, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			errCh := make(chan error, 1)
			go func() { errCh <- fw.ForwardPorts() }()
			<-ready
			defer func() { close(stop); <-errCh }()
			ports, _ := fw.GetPorts()
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
				t.Fatalf("read %q, %v; want ping", buf, err)
			}
		})
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus string
		wantCode   string
	}{
		{name: "success", wantStatus: "Success"},
		{name: "exit 3", err: utilexec.CodeExitError{Err: errors.New("exit 3"), Code: 3}, wantStatus: "Failure", wantCode: "3"},
		{name: "other error", err: errors.New("boom"), wantStatus: "Failure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := exitStatus(tt.err)
			code := ""
			if st.Details != nil && len(st.Details.Causes) == 1 && st.Details.Causes[0].Type == "ExitCode" {
				code = st.Details.Causes[0].Message
			}
			if st.Status != tt.wantStatus || code != tt.wantCode {
				t.Fatalf("status %q code %q, want %q %q", st.Status, code, tt.wantStatus, tt.wantCode)
			}
		})
	}
}
