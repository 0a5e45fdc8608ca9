// Package printers computes the server-side table columns that `kubectl get` prints
// (the meta.k8s.io/v1 Table form of a list), one printer per kind, from objects of
// the storage version.
//
// Column names, order, priorities and cell types follow what a Kubernetes 1.3x API
// server sends, because kubectl prints whatever the server puts in the table: a
// column named "Nominated Node" is shown as NOMINATED NODE, priority 1 columns only
// with -o wide, and int64 cells are right-formatted as numbers. Rows are always
// computed in full (wide columns included); kubectl hides the wide ones itself.
package printers

import (
	"fmt"
	"reflect"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Printer renders one kind as table columns.
type Printer struct {
	// Columns describe the cells of every row. The first is NAME (Type "string",
	// Format "name") for every kind but core Events, whose columns lead with
	// LAST SEEN as in Kubernetes. Wide-only columns have Priority 1.
	Columns []metav1.TableColumnDefinition
	// Row returns one cell per column, in the same order. now is the moment ages
	// are measured from, so a whole table agrees on it and tests are repeatable.
	Row func(obj runtime.Object, now time.Time) ([]interface{}, error)
}

// For returns the printer for a kind, or nil when the kind has none (the caller then
// prints NAME and AGE, see Default). The version is irrelevant: objects are always of
// the storage version. The returned printer is shared and must not be modified.
func For(gk schema.GroupKind) *Printer {
	return registry[gk]
}

// Default is NAME and AGE, for kinds without their own printer (custom resources
// without printer columns, for instance).
func Default() *Printer {
	return defaultPrinter
}

var defaultPrinter = &Printer{
	Columns: []metav1.TableColumnDefinition{nameColumn(), ageColumn()},
	Row: func(obj runtime.Object, now time.Time) ([]interface{}, error) {
		m, err := metaOf(obj)
		if err != nil {
			return nil, err
		}
		return []interface{}{m.GetName(), age(now, m.GetCreationTimestamp())}, nil
	},
}

// registry is filled once, at package initialisation, from the per-group files and
// is read-only afterwards.
var registry = func() map[schema.GroupKind]*Printer {
	m := map[schema.GroupKind]*Printer{}
	for _, add := range []func(map[schema.GroupKind]*Printer){
		addPods, addWorkloads, addBatch, addNetworking, addNodes, addConfig,
		addEvents, addStorage, addAutoscaling, addRBAC, addCertificates, addAPIExtensions, addExtension,
		addFlowControl,
	} {
		add(m)
	}
	return m
}()

// register adds p under each kind of group, refusing duplicates so that two files
// cannot silently claim the same kind.
func register(m map[schema.GroupKind]*Printer, p *Printer, group string, kinds ...string) {
	for _, k := range kinds {
		gk := schema.GroupKind{Group: group, Kind: k}
		if _, dup := m[gk]; dup {
			panic("printers: two printers for " + gk.String())
		}
		m[gk] = p
	}
}

// printerOf builds a Printer whose Row takes *T (or an unstructured object holding
// a T) and never fails once it has one.
func printerOf[T any, PT interface {
	*T
	runtime.Object
}](columns []metav1.TableColumnDefinition, cells func(o PT, now time.Time) []interface{}) *Printer {
	return &Printer{
		Columns: columns,
		Row: func(obj runtime.Object, now time.Time) ([]interface{}, error) {
			o, err := typed[T, PT](obj)
			if err != nil {
				return nil, err
			}
			return cells(o, now), nil
		},
	}
}

// typed returns obj as *T. Unstructured objects are converted, so a caller that only
// has the JSON form (a watch cache of raw objects, say) can still print a row.
func typed[T any, PT interface {
	*T
	runtime.Object
}](obj runtime.Object) (PT, error) {
	switch o := obj.(type) {
	case PT:
		if o == nil {
			return nil, fmt.Errorf("printers: nil %T", o)
		}
		return o, nil
	case *unstructured.Unstructured:
		out := PT(new(T))
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, out); err != nil {
			return nil, fmt.Errorf("printers: converting %s to %T: %w", o.GroupVersionKind().Kind, out, err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("printers: cannot print %T as %T", obj, PT(nil))
	}
}

// metaOf is the object metadata of any object, for the default printer.
func metaOf(obj runtime.Object) (metav1.Object, error) {
	if v := reflect.ValueOf(obj); obj == nil || (v.Kind() == reflect.Pointer && v.IsNil()) {
		return nil, fmt.Errorf("printers: nil object")
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("printers: %T has no object metadata", obj)
	}
	return m, nil
}
