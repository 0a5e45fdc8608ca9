package nfttable

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"sigs.k8s.io/knftables"
)

// Apply makes the kernel's table want, knowing that old (nil: unknown) is what it
// holds now. It patches when it can; otherwise it rebuilds the table in one
// transaction that deletes and re-creates it, so readers never see it missing and
// nothing left over from another run survives. It returns the number of operations
// sent and whether it rebuilt.
func Apply(ctx context.Context, nft knftables.Interface, old, want *Ruleset) (ops int, full bool, err error) {
	tx := nft.NewTransaction()
	full = old == nil || !Plan(tx, old, want)
	if full {
		tx = nft.NewTransaction()
		tx.Add(&knftables.Table{})
		tx.Delete(&knftables.Table{})
		Plan(tx, nil, want)
	}
	if !full && tx.NumOperations() <= 1 { // a lone "add table" changes nothing
		return 0, false, nil
	}
	return tx.NumOperations(), full, nft.Run(ctx, tx)
}

// Delete removes the table; a table already gone is not an error. It runs when
// the caller's context may have ended, so it has its own deadline.
func Delete(nft knftables.Interface) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tx := nft.NewTransaction()
	tx.Delete(&knftables.Table{})
	err := nft.Run(ctx, tx)
	if err == nil || knftables.IsNotFound(err) {
		return nil
	}
	return err
}

// DeleteTable removes the table (family ip) called name, which no running
// process owns any more (`skiff agent reset`); a missing table is no error.
func DeleteTable(name string) error {
	nft, err := knftables.New(knftables.IPv4Family, name)
	if err != nil {
		return err
	}
	return Delete(nft)
}

// Loop calls sync after each signal on changed until ctx ends, at most once per
// minInterval (signals arriving meanwhile make one sync), and retries a failed sync
// with a growing backoff.
func Loop(ctx context.Context, log *slog.Logger, changed <-chan struct{}, minInterval time.Duration, sync func(context.Context) error) {
	var last time.Time
	var retry <-chan time.Time
	backoff := time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-retry:
		}
		if wait := time.Until(last.Add(minInterval)); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		last = time.Now()
		retry = nil
		err := sync(ctx)
		if err == nil {
			backoff = time.Second
			continue
		}
		if errors.Is(err, context.Canceled) {
			return
		}
		log.Error("sync failed; rebuilding the table", "err", err, "retryIn", backoff)
		retry = time.After(backoff)
		backoff = min(2*backoff, 30*time.Second)
	}
}
