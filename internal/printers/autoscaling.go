package printers

import (
	"fmt"
	"strconv"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// hpaMetricsMax is how many metrics TARGETS names before "+ N more...".
const hpaMetricsMax = 2

// addAutoscaling registers what sizes and protects workloads: autoscalers,
// disruption budgets and priority classes.
func addAutoscaling(m map[schema.GroupKind]*Printer) {
	specDoc := autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Reference", typeString, specDoc["scaleTargetRef"]),
		col("Targets", typeString, specDoc["metrics"]),
		col("MinPods", typeString, specDoc["minReplicas"]),
		col("MaxPods", typeString, specDoc["maxReplicas"]),
		col("Replicas", typeString, autoscalingv2.HorizontalPodAutoscalerStatus{}.SwaggerDoc()["currentReplicas"]),
		ageColumn(),
	}, hpaRow), "autoscaling", "HorizontalPodAutoscaler")

	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Min Available", typeString, "Pods that must stay available, as a count or a percentage."),
		col("Max Unavailable", typeString, "Pods that may be unavailable at once, as a count or a percentage."),
		col("Allowed Disruptions", typeInteger, "How many pods may be evicted right now without breaking the budget."),
		ageColumn(),
	}, func(pdb *policyv1.PodDisruptionBudget, now time.Time) []interface{} {
		minAvailable, maxUnavailable := "N/A", "N/A"
		if pdb.Spec.MinAvailable != nil {
			minAvailable = pdb.Spec.MinAvailable.String()
		}
		if pdb.Spec.MaxUnavailable != nil {
			maxUnavailable = pdb.Spec.MaxUnavailable.String()
		}
		return []interface{}{pdb.Name, minAvailable, maxUnavailable, int64(pdb.Status.DisruptionsAllowed),
			age(now, pdb.CreationTimestamp)}
	}), "policy", "PodDisruptionBudget")

	pcDoc := schedulingv1.PriorityClass{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Value", typeInteger, pcDoc["value"]),
		col("Global-Default", typeBoolean, pcDoc["globalDefault"]),
		ageColumn(),
		// Not wide-only: a Kubernetes API server always sends it, so kubectl shows it.
		col("PreemptionPolicy", typeString, pcDoc["preemptionPolicy"]),
	}, func(pc *schedulingv1.PriorityClass, now time.Time) []interface{} {
		policy := ""
		if pc.PreemptionPolicy != nil {
			policy = string(*pc.PreemptionPolicy)
		}
		return []interface{}{pc.Name, int64(pc.Value), pc.GlobalDefault, age(now, pc.CreationTimestamp), policy}
	}), "scheduling.k8s.io", "PriorityClass")

	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Handler", typeString, nodev1.RuntimeClass{}.SwaggerDoc()["handler"]),
		ageColumn(),
	}, func(rc *nodev1.RuntimeClass, now time.Time) []interface{} {
		return []interface{}{rc.Name, rc.Handler, age(now, rc.CreationTimestamp)}
	}), "node.k8s.io", "RuntimeClass")
}

func hpaRow(hpa *autoscalingv2.HorizontalPodAutoscaler, now time.Time) []interface{} {
	minPods := unset
	if hpa.Spec.MinReplicas != nil {
		minPods = strconv.Itoa(int(*hpa.Spec.MinReplicas))
	}
	ref := hpa.Spec.ScaleTargetRef
	return []interface{}{
		hpa.Name,
		ref.Kind + "/" + ref.Name,
		hpaTargets(hpa.Spec.Metrics, hpa.Status.CurrentMetrics),
		minPods,
		int64(hpa.Spec.MaxReplicas),
		int64(hpa.Status.CurrentReplicas),
		age(now, hpa.CreationTimestamp),
	}
}

// hpaTargets shows "current/target" per metric, e.g. "cpu: 45%/50%", with
// <unknown> until the controller has measured. Status metrics are matched to
// spec metrics by position, as the controller writes them.
func hpaTargets(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	if len(specs) == 0 {
		return none
	}
	list := make([]string, 0, len(specs))
	for i, spec := range specs {
		var st *autoscalingv2.MetricStatus
		if i < len(statuses) {
			st = &statuses[i]
		}
		list = append(list, hpaTarget(spec, st))
	}
	return truncatedList(list, hpaMetricsMax, ", ")
}

func hpaTarget(spec autoscalingv2.MetricSpec, st *autoscalingv2.MetricStatus) string {
	switch {
	case spec.Type == autoscalingv2.ExternalMetricSourceType && spec.External != nil:
		var cur *autoscalingv2.MetricValueStatus
		if st != nil && st.External != nil {
			cur = &st.External.Current
		}
		return valueTarget(spec.External.Target, cur)
	case spec.Type == autoscalingv2.PodsMetricSourceType && spec.Pods != nil:
		current := unknown
		if st != nil && st.Pods != nil {
			current = st.Pods.Current.AverageValue.String()
		}
		return current + "/" + spec.Pods.Target.AverageValue.String()
	case spec.Type == autoscalingv2.ObjectMetricSourceType && spec.Object != nil:
		var cur *autoscalingv2.MetricValueStatus
		if st != nil && st.Object != nil {
			cur = &st.Object.Current
		}
		return valueTarget(spec.Object.Target, cur)
	case spec.Type == autoscalingv2.ResourceMetricSourceType && spec.Resource != nil:
		var cur *autoscalingv2.MetricValueStatus
		if st != nil && st.Resource != nil {
			cur = &st.Resource.Current
		}
		return spec.Resource.Name.String() + ": " + resourceTarget(spec.Resource.Target, cur)
	case spec.Type == autoscalingv2.ContainerResourceMetricSourceType && spec.ContainerResource != nil:
		var cur *autoscalingv2.MetricValueStatus
		if st != nil && st.ContainerResource != nil {
			cur = &st.ContainerResource.Current
		}
		return spec.ContainerResource.Name.String() + ": " + resourceTarget(spec.ContainerResource.Target, cur)
	}
	return "<unknown type>"
}

// valueTarget is for external and object metrics: an average value, marked (avg),
// or a plain value. Quantities print nil-safely ("<nil>"), as Kubernetes shows an
// inconsistent metric rather than failing the row.
func valueTarget(target autoscalingv2.MetricTarget, cur *autoscalingv2.MetricValueStatus) string {
	current := unknown
	if target.AverageValue != nil {
		if cur != nil && cur.AverageValue != nil {
			current = cur.AverageValue.String()
		}
		return fmt.Sprintf("%s/%s (avg)", current, target.AverageValue.String())
	}
	if cur != nil {
		current = cur.Value.String()
	}
	return current + "/" + target.Value.String()
}

// resourceTarget is for cpu/memory metrics: an average value, or a utilisation in
// percent of the pods' requests (<auto> when the target leaves it to the default).
func resourceTarget(target autoscalingv2.MetricTarget, cur *autoscalingv2.MetricValueStatus) string {
	current := unknown
	if target.AverageValue != nil {
		if cur != nil {
			current = cur.AverageValue.String()
		}
		return current + "/" + target.AverageValue.String()
	}
	if cur != nil && cur.AverageUtilization != nil {
		current = fmt.Sprintf("%d%%", *cur.AverageUtilization)
	}
	want := "<auto>"
	if target.AverageUtilization != nil {
		want = fmt.Sprintf("%d%%", *target.AverageUtilization)
	}
	return current + "/" + want
}
