package main

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseSleep(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "30", want: 30 * time.Second},
		{in: "0.5", want: 500 * time.Millisecond},
		{in: "2m", want: 2 * time.Minute},
		{in: "infinity", want: -1},
		{in: "-1s", wantErr: true},
		{in: "soon", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseSleep(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseSleep(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		want     int
		inStderr string
	}{
		{name: "fail default", args: []string{"fail"}, want: 1, inStderr: ""},
		{name: "fail code", args: []string{"fail", "--code", "42"}, want: 42},
		{name: "sleep", args: []string{"sleep", "10ms"}, want: 0},
		{name: "unknown", args: []string{"frobnicate"}, want: 2, inStderr: `unknown command "frobnicate"`},
		{name: "no args", args: nil, want: 2, inStderr: "usage: toolbox"},
		{name: "bad flag", args: []string{"serve", "--nope"}, want: 1, inStderr: "flag provided but not defined"},
		{name: "hog-memory without size", args: []string{"hog-memory"}, want: 1, inStderr: "--mb"},
		{name: "hog-cpu for a while", args: []string{"hog-cpu", "--millicores", "100", "--for", "50ms"}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			if got := run(tt.args, &stderr); got != tt.want {
				t.Errorf("run(%q) = %d, want %d (stderr %q)", tt.args, got, tt.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.inStderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.inStderr)
			}
		})
	}
}

func TestTCPEcho(t *testing.T) {
	// Find a free port, then let tcp-echo listen on it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx := t.Context()
	go runTCPEcho(ctx, []string{"--port", strconv.Itoa(port)})

	var c net.Conn
	for i := 0; i < 100; i++ {
		if c, err = net.Dial("tcp", ln.Addr().String()); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping\n" {
		t.Errorf("echoed %q, %v; want %q", buf, err, "ping\n")
	}
}
