package printers

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// addConfig registers the namespaced configuration kinds: what pods read (config
// maps, secrets, service accounts) and what bounds them (quotas, limit ranges).
func addConfig(m map[schema.GroupKind]*Printer) {
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Data", typeString, corev1.ConfigMap{}.SwaggerDoc()["data"]),
		ageColumn(),
	}, func(cm *corev1.ConfigMap, now time.Time) []interface{} {
		return []interface{}{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), age(now, cm.CreationTimestamp)}
	}), "", "ConfigMap")

	secretDoc := corev1.Secret{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Type", typeString, secretDoc["type"]),
		col("Data", typeString, secretDoc["data"]),
		ageColumn(),
	}, func(s *corev1.Secret, now time.Time) []interface{} {
		return []interface{}{s.Name, string(s.Type), int64(len(s.Data)), age(now, s.CreationTimestamp)}
	}), "", "Secret")

	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Secrets", typeString, corev1.ServiceAccount{}.SwaggerDoc()["secrets"]),
		ageColumn(),
	}, func(sa *corev1.ServiceAccount, now time.Time) []interface{} {
		return []interface{}{sa.Name, int64(len(sa.Secrets)), age(now, sa.CreationTimestamp)}
	}), "", "ServiceAccount")

	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Request", typeString, "Used and hard amounts of every quota not on limits."),
		col("Limit", typeString, "Used and hard amounts of every quota on limits."),
		ageColumn(),
	}, resourceQuotaRow), "", "ResourceQuota")

	// Kubernetes has no printer of its own for limit ranges, so its API server
	// answers with the generic NAME and CREATED AT.
	register(m, createdAtPrinter, "", "LimitRange")
}

// resourceQuotaRow shows "resource: used/hard" for every hard limit, sorted by name;
// limits.* go to LIMIT, everything else to REQUEST.
func resourceQuotaRow(q *corev1.ResourceQuota, now time.Time) []interface{} {
	names := make([]string, 0, len(q.Status.Hard))
	for r := range q.Status.Hard {
		names = append(names, string(r))
	}
	sort.Strings(names)
	var requests, limits []string
	for _, n := range names {
		used := q.Status.Used[corev1.ResourceName(n)]
		hard := q.Status.Hard[corev1.ResourceName(n)]
		cell := fmt.Sprintf("%s: %s/%s", n, used.String(), hard.String())
		if strings.HasPrefix(n, "limits.") {
			limits = append(limits, cell)
		} else {
			requests = append(requests, cell)
		}
	}
	return []interface{}{q.Name, strings.Join(requests, ", "), strings.Join(limits, ", "), age(now, q.CreationTimestamp)}
}

// createdAtPrinter is what a Kubernetes API server sends for built-in kinds that have
// no printer (roles, cluster roles, limit ranges): the creation time as an RFC 3339
// date, which kubectl prints verbatim under CREATED AT.
var createdAtPrinter = &Printer{
	Columns: []metav1.TableColumnDefinition{
		nameColumn(),
		col("Created At", typeDate, metaDoc["creationTimestamp"]),
	},
	Row: func(obj runtime.Object, _ time.Time) ([]interface{}, error) {
		m, err := metaOf(obj)
		if err != nil {
			return nil, err
		}
		return []interface{}{m.GetName(), m.GetCreationTimestamp().UTC().Format(time.RFC3339)}, nil
	},
}
