package apiserver

import (
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/printers"
	"skiff/internal/store"
)

// table renders stored objects as the rows kubectl prints.
func (a *API) table(r *http.Request, ep *endpoint, objs []runtime.Object, headers bool) (*metav1.Table, error) {
	if ep.custom != nil {
		// The printer columns are JSONPaths into the served version.
		var err error
		if objs, err = toServedList(ep, objs); err != nil {
			return nil, err
		}
	}
	return a.tableOf(r, ep, len(objs), func(i int) (runtime.Object, error) { return objs[i], nil }, headers)
}

// listTable answers a list as a table from the cache's encoded objects,
// decoding one object at a time for its row: a decoded object is garbage once
// its row is built, so a long list never holds them all.
func (a *API) listTable(w http.ResponseWriter, r *http.Request, out output, ep *endpoint, o store.ListOptions) {
	items, rev, cont, err := ep.store.ListEncoded(r.Context(), o)
	if err != nil {
		writeError(w, err)
		return
	}
	t, err := a.tableOf(r, ep, len(items), func(i int) (runtime.Object, error) { return ep.store.Decode(items[i]) },
		r.URL.Query().Get("noHeaders") != "true")
	if err != nil {
		writeError(w, err)
		return
	}
	t.ListMeta = listMetaOf(rev, cont, *o.Remaining)
	writeObject(w, out, http.StatusOK, metav1.SchemeGroupVersion, t)
}

// tableOf builds the table of n objects, the i-th of which object returns (in
// the stored version; custom objects in the served one).
func (a *API) tableOf(r *http.Request, ep *endpoint, n int, object func(i int) (runtime.Object, error), headers bool) (*metav1.Table, error) {
	p := printers.For(ep.StorageGVK().GroupKind())
	if ep.custom != nil {
		p = ep.custom.Printer
	}
	if p == nil {
		p = printers.Default()
	}
	include := r.URL.Query().Get("includeObject")
	t := &metav1.Table{Rows: make([]metav1.TableRow, 0, n)}
	if headers {
		t.ColumnDefinitions = p.Columns
	}
	now := a.now()
	for i := range n {
		obj, err := object(i)
		if err != nil {
			return nil, err
		}
		cells, err := p.Row(obj, now)
		if err != nil {
			return nil, err
		}
		row := metav1.TableRow{Cells: cells}
		switch include {
		case "None":
		case "Object":
			served, err := toServed(ep, obj)
			if err != nil {
				return nil, err
			}
			row.Object = runtime.RawExtension{Object: served}
		default:
			row.Object = runtime.RawExtension{Object: rowMetadata(obj)}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// rowMetadata is the metadata a table row carries by default. Unlike
// Kubernetes it leaves out managedFields: no table reader uses them, and they
// are most of a row's bytes (about 1.9 of a pod's 2.3 KB), which every client
// decodes: `kubectl get pods -A` over a large cluster spends most of its time
// on them.
func rowMetadata(obj runtime.Object) *metav1.PartialObjectMetadata {
	pm := partial(obj)
	pm.APIVersion, pm.Kind = "meta.k8s.io/v1", "PartialObjectMetadata"
	pm.ManagedFields = nil
	return pm
}
