package apiextensions

import (
	"context"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresource/tableconvertor"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/printers"
)

// ageColumn is what Kubernetes prints for a CRD without printer columns.
var ageColumn = apiextensionsv1.CustomResourceColumnDefinition{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"}

// printer renders additionalPrinterColumns with the library's table convertor
// (JSONPath cells, dates as ages, wide columns by priority).
func printer(columns []apiextensionsv1.CustomResourceColumnDefinition) (*printers.Printer, error) {
	if len(columns) == 0 {
		columns = []apiextensionsv1.CustomResourceColumnDefinition{ageColumn}
	}
	tc, err := tableconvertor.New(columns)
	if err != nil {
		return nil, err
	}
	head, err := tc.ConvertToTable(context.Background(), &unstructured.UnstructuredList{}, nil)
	if err != nil {
		return nil, err
	}
	return &printers.Printer{
		Columns: head.ColumnDefinitions,
		Row: func(obj runtime.Object, _ time.Time) ([]interface{}, error) {
			t, err := tc.ConvertToTable(context.Background(), obj, nil)
			if err != nil || len(t.Rows) == 0 {
				return nil, err
			}
			return t.Rows[0].Cells, nil
		},
	}, nil
}
