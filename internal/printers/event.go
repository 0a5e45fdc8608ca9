package printers

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// addEvents registers core/v1 Events. events.k8s.io/v1 serves the same objects
// (stored as core/v1), so it shares the printer, which also takes an events/v1
// Event should a caller hold one.
func addEvents(m map[schema.GroupKind]*Printer) {
	doc, refDoc := corev1.Event{}.SwaggerDoc(), corev1.ObjectReference{}.SwaggerDoc()
	name := nameColumn()
	name.Priority = 1
	p := &Printer{
		// Events lead with when they were seen: NAME is a generated string users
		// rarely want, so Kubernetes shows it last and only with -o wide.
		Columns: []metav1.TableColumnDefinition{
			col("Last Seen", typeString, doc["lastTimestamp"]),
			col("Type", typeString, doc["type"]),
			col("Reason", typeString, doc["reason"]),
			col("Object", typeString, doc["involvedObject"]),
			wide("Subobject", typeString, refDoc["fieldPath"]),
			wide("Source", typeString, doc["source"]),
			col("Message", typeString, doc["message"]),
			wide("First Seen", typeString, doc["firstTimestamp"]),
			wide("Count", typeString, doc["count"]),
			name,
		},
		Row: func(obj runtime.Object, now time.Time) ([]interface{}, error) {
			if ev, ok := obj.(*eventsv1.Event); ok && ev != nil {
				return eventRow(coreEvent(ev), now), nil
			}
			ev, err := typed[corev1.Event](obj)
			if err != nil {
				return nil, err
			}
			return eventRow(ev, now), nil
		},
	}
	register(m, p, "", "Event")
	register(m, p, "events.k8s.io", "Event")
}

func eventRow(ev *corev1.Event, now time.Time) []interface{} {
	// Events written through events.k8s.io carry only eventTime and a series; the
	// older fields, when set, are what the recorder last updated.
	first := age(now, ev.FirstTimestamp)
	if ev.FirstTimestamp.IsZero() {
		first = microAge(now, ev.EventTime)
	}
	last := age(now, ev.LastTimestamp)
	if ev.LastTimestamp.IsZero() {
		last = first
	}
	count := ev.Count
	switch {
	case ev.Series != nil:
		last = microAge(now, ev.Series.LastObservedTime)
		count = ev.Series.Count
	case count == 0:
		count = 1 // a singleton event of the new API has no count
	}

	object := strings.ToLower(ev.InvolvedObject.Kind)
	if ev.InvolvedObject.Name != "" {
		object = fmt.Sprintf("%s/%s", object, ev.InvolvedObject.Name)
	}
	return []interface{}{
		last,
		ev.Type,
		ev.Reason,
		object,
		ev.InvolvedObject.FieldPath,
		eventSource(ev),
		strings.TrimSpace(ev.Message),
		first,
		int64(count),
		ev.Name,
	}
}

// eventSource is "component, host", falling back to the reporting controller and
// instance that the newer API fills instead.
func eventSource(ev *corev1.Event) string {
	component := orElse(ev.Source.Component, ev.ReportingController)
	host := orElse(ev.Source.Host, ev.ReportingInstance)
	if host == "" {
		return component
	}
	return component + ", " + host
}

// coreEvent maps an events.k8s.io/v1 Event onto the core/v1 fields it mirrors.
func coreEvent(ev *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		ObjectMeta:          ev.ObjectMeta,
		InvolvedObject:      ev.Regarding,
		Reason:              ev.Reason,
		Message:             ev.Note,
		Source:              ev.DeprecatedSource,
		FirstTimestamp:      ev.DeprecatedFirstTimestamp,
		LastTimestamp:       ev.DeprecatedLastTimestamp,
		Count:               ev.DeprecatedCount,
		Type:                ev.Type,
		EventTime:           ev.EventTime,
		Related:             ev.Related,
		Action:              ev.Action,
		ReportingController: ev.ReportingController,
		ReportingInstance:   ev.ReportingInstance,
	}
	if ev.Series != nil {
		out.Series = &corev1.EventSeries{Count: ev.Series.Count, LastObservedTime: ev.Series.LastObservedTime}
	}
	return out
}
