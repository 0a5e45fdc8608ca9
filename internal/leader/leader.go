// Package leader runs a piece of the control plane only while this process holds
// a coordination Lease, so that several servers can run it side by side and only
// one acts at a time.
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Timings as kube-scheduler's and kube-controller-manager's defaults.
const (
	leaseDuration = 15 * time.Second
	renewDeadline = 10 * time.Second
	retryPeriod   = 2 * time.Second
)

// ErrLostLease is Run's error when the Lease was lost while ctx was live.
var ErrLostLease = errors.New("lost the leader lease")

// Identity names this instance in a Lease: id itself, or hostname plus a random
// suffix when id is empty.
func Identity(id string) string {
	if id != "" {
		return id
	}
	host, _ := os.Hostname()
	return host + "_" + uuid.NewString()
}

// Run runs run while id holds the Lease namespace/name and returns when ctx ends.
// Losing the Lease while ctx is live is an error: the caller should exit, as the
// Kubernetes components do, because what run was doing cannot be trusted to have
// stopped half-way cleanly.
func Run(ctx context.Context, client kubernetes.Interface, namespace, name, id string, run func(context.Context)) error {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: namespace, Name: name},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	lost := false
	var started atomic.Bool
	done := make(chan struct{})
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, Name: name, ReleaseOnCancel: true,
		LeaseDuration: leaseDuration, RenewDeadline: renewDeadline, RetryPeriod: retryPeriod,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				started.Store(true)
				defer close(done)
				slog.Info("leading", "lease", namespace+"/"+name, "identity", id)
				run(ctx)
			},
			OnStoppedLeading: func() {
				lost = ctx.Err() == nil
				slog.Info("stopped leading", "lease", namespace+"/"+name, "identity", id, "lost", lost)
			},
			OnNewLeader: func(leader string) {
				if leader != id {
					slog.Info("new leader elected", "lease", namespace+"/"+name, "leader", leader, "identity", id)
				}
			},
		},
	})
	if err != nil {
		return err
	}
	le.Run(ctx)
	if started.Load() {
		<-done // run has seen its context end
	}
	if lost {
		return fmt.Errorf("%w %s/%s", ErrLostLease, namespace, name)
	}
	return nil
}
