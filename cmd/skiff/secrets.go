package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"skiff/internal/encryption"
)

// runSecrets is `skiff secrets rotate-key`: a new key for Secrets at rest, applied
// by the running server without downtime.
func runSecrets(ctx context.Context, out io.Writer, args []string) error {
	if len(args) == 0 || args[0] != "rotate-key" {
		return fmt.Errorf("usage: skiff secrets rotate-key [--data-dir DIR] [--encryption-provider-config FILE]")
	}
	fs := flag.NewFlagSet("secrets rotate-key", flag.ExitOnError)
	dataDir := fs.String("data-dir", "/var/lib/skiff", "the running server's data dir")
	path := fs.String("encryption-provider-config", "", "the server's encryption configuration (default: DATA-DIR/encryption/config.yaml)")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for the server at each step")
	_ = fs.Parse(args[1:])
	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		return err
	}
	if *path == "" {
		*path = encryption.DefaultConfigPath(dir)
	}
	return encryption.Rotate(ctx, out, dir, *path, *timeout)
}
