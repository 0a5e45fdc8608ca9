package apiserver

import (
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/printers"
)

// table renders stored objects as the rows kubectl prints.
func (a *API) table(r *http.Request, ep *endpoint, objs []runtime.Object, headers bool) (*metav1.Table, error) {
	p := printers.For(ep.StorageGVK().GroupKind())
	if ep.custom != nil {
		// The printer columns are JSONPaths into the served version.
		p = ep.custom.Printer
		var err error
		if objs, err = toServedList(ep, objs); err != nil {
			return nil, err
		}
	}
	if p == nil {
		p = printers.Default()
	}
	include := r.URL.Query().Get("includeObject")
	t := &metav1.Table{Rows: make([]metav1.TableRow, 0, len(objs))}
	if headers {
		t.ColumnDefinitions = p.Columns
	}
	now := a.now()
	for _, obj := range objs {
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
			pm := partial(obj)
			pm.APIVersion, pm.Kind = "meta.k8s.io/v1", "PartialObjectMetadata"
			row.Object = runtime.RawExtension{Object: pm}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}
