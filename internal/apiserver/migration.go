package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	storagemigrationv1 "k8s.io/api/storagemigration/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/store"
)

var migrationGVR = storagemigrationv1.SchemeGroupVersion.WithResource("storageversionmigrations")

// migrationManager is the field manager of the server's status writes to
// StorageVersionMigrations.
const migrationManager = "storage-version-migrator-controller"

// runMigrations carries out StorageVersionMigrations: every object of the named
// resource whose stored form is not what a write stores now (another version of a
// custom resource, an older encryption key) is stored again. The migration is
// Running while it works and then Succeeded, or Failed with the reason. Every
// server may run one; a rewrite only happens where etcd still holds the value read.
func (a *API) runMigrations(ctx context.Context) {
	ep := a.endpoints[migrationGVR]
	for ctx.Err() == nil {
		w, err := ep.store.Watch(ctx, store.WatchOptions{})
		if err != nil {
			slog.Error("storage migration: watch", "err", err)
			time.Sleep(time.Second)
			continue
		}
		a.syncMigrations(ctx, ep)
		for open := true; open && ctx.Err() == nil; {
			select {
			case <-ctx.Done():
			case <-w.Ready():
				if _, open = w.Take(); open {
					a.syncMigrations(ctx, ep)
				}
			}
		}
		w.Stop()
	}
}

func (a *API) syncMigrations(ctx context.Context, ep *endpoint) {
	objs, _, _, err := ep.store.List(ctx, store.ListOptions{ResourceVersion: "0"})
	if err != nil {
		slog.Error("storage migration: list", "err", err)
		return
	}
	for _, obj := range objs {
		m := obj.(*storagemigrationv1.StorageVersionMigration)
		if done(m) || m.DeletionTimestamp != nil {
			continue
		}
		if err := a.migrate(ctx, ep, m.DeepCopy()); err != nil {
			slog.Error("storage migration", "name", m.Name, "err", err)
		}
	}
}

func done(m *storagemigrationv1.StorageVersionMigration) bool {
	return meta.IsStatusConditionTrue(m.Status.Conditions, string(storagemigrationv1.MigrationSucceeded)) ||
		meta.IsStatusConditionTrue(m.Status.Conditions, string(storagemigrationv1.MigrationFailed))
}

// migrate runs one migration to its end and records how it went.
func (a *API) migrate(ctx context.Context, ep *endpoint, m *storagemigrationv1.StorageVersionMigration) error {
	target, convert, err := a.migrationTarget(m.Spec.Resource)
	if err != nil {
		return a.setMigration(ctx, ep, m, storagemigrationv1.MigrationFailed, "ResourceNotServed", err.Error())
	}
	if !meta.IsStatusConditionTrue(m.Status.Conditions, string(storagemigrationv1.MigrationRunning)) {
		m.Status.ResourceVersion = fmt.Sprint(a.store.Revision())
		if err := a.setMigration(ctx, ep, m, storagemigrationv1.MigrationRunning, "Migrating", "storing every object again in the current storage version"); err != nil {
			return err
		}
	}
	n, err := target.Migrate(ctx, convert)
	if err != nil {
		return a.setMigration(ctx, ep, m, storagemigrationv1.MigrationFailed, "MigrationFailed", err.Error())
	}
	slog.Info("storage migration done", "name", m.Name, "resource", m.Spec.Resource.String(), "rewritten", n)
	return a.setMigration(ctx, ep, m, storagemigrationv1.MigrationSucceeded, "Migrated", fmt.Sprintf("%d objects stored again", n))
}

// migrationTarget finds the store of a served resource and, for a custom one, the
// conversion to the CRD's storage version.
func (a *API) migrationTarget(gr metav1.GroupResource) (*store.Resource, func(runtime.Object) (runtime.Object, error), error) {
	want := schema.GroupResource{Group: gr.Group, Resource: gr.Resource}
	for _, ep := range a.endpoints {
		if ep.GroupVersionResource.GroupResource() == want && ep.store != nil {
			return ep.store, nil, nil
		}
	}
	if ep := a.custom.storageEndpoint(want); ep != nil {
		return ep.store, func(obj runtime.Object) (runtime.Object, error) { return ep.custom.Convert.Convert(obj, ep.Storage) }, nil
	}
	return nil, nil, fmt.Errorf("the server does not serve the resource %q", want)
}

// setMigration makes typ the migration's current condition (Running ends when it
// succeeds or fails) and writes the status.
func (a *API) setMigration(ctx context.Context, ep *endpoint, m *storagemigrationv1.StorageVersionMigration, typ storagemigrationv1.MigrationConditionType, reason, msg string) error {
	cur := m.DeepCopy()
	if typ != storagemigrationv1.MigrationRunning {
		meta.SetStatusCondition(&m.Status.Conditions, metav1.Condition{Type: string(storagemigrationv1.MigrationRunning),
			Status: metav1.ConditionFalse, Reason: reason, Message: msg})
	}
	meta.SetStatusCondition(&m.Status.Conditions, metav1.Condition{Type: string(typ), Status: metav1.ConditionTrue, Reason: reason, Message: msg})
	updated, err := a.updateObject(ctx, ep, request{Name: m.Name, Subresource: "status"}, cur, m, writeOptions{manager: migrationManager}, true)
	if err != nil {
		return err
	}
	*m = *updated.(*storagemigrationv1.StorageVersionMigration).DeepCopy()
	return nil
}
