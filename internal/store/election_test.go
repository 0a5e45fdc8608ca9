package store

import (
	"context"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// TestElectingErrors: only "no leader right now" makes a consistent read wait.
func TestElectingErrors(t *testing.T) {
	for err, want := range map[error]bool{
		rpctypes.ErrGRPCLeaderChanged: true,
		rpctypes.ErrGRPCNoLeader:      true,
		rpctypes.ErrGRPCKeyNotFound:   false,
		context.DeadlineExceeded:      false,
	} {
		if got := electing(err); got != want {
			t.Errorf("electing(%v) = %v, want %v", err, got, want)
		}
	}
}
