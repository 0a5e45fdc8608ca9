package store

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func startTestEtcd(t testing.TB) *Etcd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := StartEmbedded(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// TestEmbeddedEtcdOpensNoNetworkListeners: no client listener at all, and the one
// peer listener is a unix socket inside the member's private directory (the
// mutual-TLS front of internal/etcdpeer forwards to it once a server joins).
func TestEmbeddedEtcdOpensNoNetworkListeners(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := StartEmbedded(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if n := len(e.member.Clients); n != 0 {
		t.Fatalf("embedded etcd opened %d client listeners, want none", n)
	}
	for _, p := range e.member.Peers {
		if a := p.Listener.Addr(); a.Network() != "unix" || a.String() != PeerSocket(dir) {
			t.Fatalf("embedded etcd listens for peers on %s %s, want only the unix socket %s", a.Network(), a, PeerSocket(dir))
		}
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("member directory %s: %v %v, want mode 0700", dir, st.Mode(), err)
	}
	if _, err := e.Client.Put(ctx, "/k", "v"); err != nil {
		t.Fatal(err)
	}
	resp, err := e.Client.Get(ctx, "/k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("in-process client read %v, %v", resp, err)
	}
}

func TestEmbeddedEtcdStoppedIsReported(t *testing.T) {
	e := startTestEtcd(t)
	select {
	case <-e.Stopped():
		t.Fatal("Stopped closed while the member runs")
	default:
	}
	e.member.Server.HardStop()
	select {
	case <-e.Stopped():
	case <-time.After(10 * time.Second):
		t.Fatal("Stopped not closed after the member stopped")
	}
}

func TestEtcdLogsReachSlog(t *testing.T) {
	var buf bytes.Buffer
	log := zap.New(newSlogCore(slog.New(slog.NewTextHandler(&buf, nil)))).Named("wal")
	log.Info("chatty detail")
	log.With(zap.String("path", "/d/member/wal")).Warn("slow fdatasync", zap.Duration("took", 2*time.Second))
	log.Error("failed to write", zap.Error(syscall.ENOSPC))
	out := buf.String()
	for _, want := range []string{
		`level=WARN msg="slow fdatasync" component=etcd`, "logger=wal", "path=/d/member/wal", "took=2s",
		`level=ERROR msg="failed to write"`, `error="no space left on device"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "chatty detail") {
		t.Errorf("info entries reached slog:\n%s", out)
	}
}

// etcd ends the process with a Fatal entry when its disk fails; the entry must
// reach the log first and say the server stops.
func TestEtcdFatalIsLoggedAsTheReasonToStop(t *testing.T) {
	var buf bytes.Buffer
	log := zap.New(newSlogCore(slog.New(slog.NewTextHandler(&buf, nil))), zap.WithFatalHook(zapcore.WriteThenPanic))
	func() {
		defer func() { _ = recover() }()
		log.Fatal("failed to save Raft hard state and entries", zap.Error(syscall.ENOSPC))
	}()
	want := `level=ERROR msg="etcd failed, the server stops: failed to save Raft hard state and entries" component=etcd error="no space left on device"`
	if !strings.Contains(buf.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, buf.String())
	}
}

// TestCompactionInterval: a member keeps five minutes of history unless told
// otherwise, and etcd takes a shorter interval as given.
func TestCompactionInterval(t *testing.T) {
	if got := (Member{}).compactionRetention(); got != "5m" {
		t.Errorf("default retention %q, want 5m", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := StartMember(ctx, t.TempDir(), Member{CompactionInterval: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if cfg := e.member.Config(); cfg.AutoCompactionMode != "periodic" || cfg.AutoCompactionRetention != "1m30s" {
		t.Errorf("member compacts %s every %q, want periodic every 1m30s", cfg.AutoCompactionMode, cfg.AutoCompactionRetention)
	}
}
