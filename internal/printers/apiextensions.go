package printers

import (
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// addAPIExtensions prints CustomResourceDefinitions as Kubernetes does: the name
// and the creation time (not an age).
func addAPIExtensions(m map[schema.GroupKind]*Printer) {
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Created At", typeDate, metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]),
	}, func(crd *apiextensionsv1.CustomResourceDefinition, _ time.Time) []interface{} {
		return []interface{}{crd.Name, crd.CreationTimestamp.UTC().Format(time.RFC3339)}
	}), "apiextensions.k8s.io", "CustomResourceDefinition")
}
