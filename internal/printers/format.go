package printers

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Column types as the Table API names them; kubectl aligns "integer" cells as numbers.
const (
	typeString  = "string"
	typeInteger = "integer"
	typeBoolean = "boolean"
	typeDate    = "date"
)

// Placeholders kubectl users know from a real cluster.
const (
	none    = "<none>"
	unknown = "<unknown>"
	unset   = "<unset>"
	pending = "<pending>"
)

var metaDoc = metav1.ObjectMeta{}.SwaggerDoc()

// col is a column shown by plain `kubectl get`.
func col(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description}
}

// wide is a column shown only by `kubectl get -o wide`.
func wide(name, typ, description string) metav1.TableColumnDefinition {
	c := col(name, typ, description)
	c.Priority = 1
	return c
}

// nameColumn is the column kubectl uses for -o name and for sorting by name.
func nameColumn() metav1.TableColumnDefinition {
	c := col("Name", typeString, metaDoc["name"])
	c.Format = "name"
	return c
}

func ageColumn() metav1.TableColumnDefinition {
	return col("Age", typeString, metaDoc["creationTimestamp"])
}

// Columns every workload shows with -o wide, describing its pod template.
func containersColumn() metav1.TableColumnDefinition {
	return wide("Containers", typeString, "Container names of the pod template.")
}

func imagesColumn() metav1.TableColumnDefinition {
	return wide("Images", typeString, "Container images of the pod template.")
}

func selectorColumn(description string) metav1.TableColumnDefinition {
	return wide("Selector", typeString, description)
}

// age is how long ago t was, the way kubectl shows it ("5m", "3d4h"); a zero time
// (an object never stored) is unknown rather than two thousand years.
func age(now time.Time, t metav1.Time) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

func microAge(now time.Time, t metav1.MicroTime) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// containerCells lays out container names and images on one line each, the wide
// CONTAINERS and IMAGES cells.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	im := make([]string, len(containers))
	for i, c := range containers {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

// truncatedList joins the first max items and says how many more there were, so a
// cell stays readable however long the list.
func truncatedList(items []string, max int, sep string) string {
	if len(items) <= max {
		return strings.Join(items, sep)
	}
	return fmt.Sprintf("%s + %d more...", strings.Join(items[:max], sep), len(items)-max)
}

// boolPtr prints an optional boolean the way kubectl describes it.
func boolPtr(b *bool) string {
	switch {
	case b == nil:
		return unset
	case *b:
		return "True"
	default:
		return "False"
	}
}

func int32Value(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func stringValue(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// orElse returns s, or fallback when s is empty.
func orElse(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
