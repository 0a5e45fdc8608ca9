package resources

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// UpgradeLegacyFields rewrites fields that manifests written for removed API versions
// still carry, so that they apply as their authors meant. It returns the body (as JSON
// when it changed anything) and a warning per rewrite.
//
// Today that is the HPA metric targets of autoscaling/v2beta1
// (targetAverageUtilization, targetAverageValue, targetValue), which many manifests
// labelled autoscaling/v2beta2 still use.
func UpgradeLegacyFields(gvk schema.GroupVersionKind, body []byte) ([]byte, []string) {
	if gvk.GroupVersion() != HPAv2beta2 || gvk.Kind != "HorizontalPodAutoscaler" {
		return body, nil
	}
	var obj map[string]any
	if err := yaml.Unmarshal(body, &obj); err != nil {
		return body, nil
	}
	spec, _ := obj["spec"].(map[string]any)
	metrics, _ := spec["metrics"].([]any)
	var warnings []string
	for i, m := range metrics {
		metric, _ := m.(map[string]any)
		for _, source := range []string{"resource", "pods", "object", "external", "containerResource"} {
			src, ok := metric[source].(map[string]any)
			if !ok {
				continue
			}
			for _, move := range []struct{ from, typ, to string }{
				{"targetAverageUtilization", "Utilization", "averageUtilization"},
				{"targetAverageValue", "AverageValue", "averageValue"},
				{"targetValue", "Value", "value"},
			} {
				// The old fields sat on the metric or on its source, depending on the manifest.
				for _, holder := range []map[string]any{src, metric} {
					v, ok := holder[move.from]
					if !ok {
						continue
					}
					delete(holder, move.from)
					src["target"] = map[string]any{"type": move.typ, move.to: v}
					warnings = append(warnings, fmt.Sprintf("spec.metrics[%d]: %s is from autoscaling/v2beta1; read as %s.target.%s", i, move.from, source, move.to))
				}
			}
		}
	}
	if len(warnings) == 0 {
		return body, nil
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return body, nil
	}
	return out, warnings
}
