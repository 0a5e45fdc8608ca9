package resources

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Event field lengths mirror the lengths Kubernetes allows, which keep
// events small enough to be written at a high rate.
const (
	eventReasonLimit = 128
	eventActionLimit = 128
	eventNoteLimit   = 1024
	eventInstanceLim = 128
)

func (eventStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	ev, ok := obj.(*corev1.Event)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	io := ev.InvolvedObject
	nsPath := field.NewPath("involvedObject", "namespace")
	if io.Kind == "" && io.Name == "" && io.UID == "" && io.Namespace == "" && io.APIVersion == "" {
		errs = append(errs, field.Required(field.NewPath("involvedObject"), ""))
	}
	if ev.EventTime.IsZero() {
		// Old-style events: the event lives in its object's namespace; events about
		// cluster-scoped objects live in "default" (or nowhere, for old clients).
		if io.Namespace == "" {
			if ev.Namespace != "" && ev.Namespace != "default" {
				errs = append(errs, field.Invalid(nsPath, io.Namespace, "does not match event.namespace"))
			}
		} else if ev.Namespace != io.Namespace {
			errs = append(errs, field.Invalid(nsPath, io.Namespace, "does not match event.namespace"))
		}
	} else {
		errs = append(errs, validateNewStyleEvent(ev)...)
	}
	for _, msg := range validation.IsDNS1123Subdomain(ev.Namespace) {
		errs = append(errs, field.Invalid(field.NewPath("namespace"), ev.Namespace, msg))
	}
	return errs
}

// validateNewStyleEvent applies the rules for events that carry eventTime (written
// through events.k8s.io or by new recorders), which must say who reported them.
func validateNewStyleEvent(ev *corev1.Event) field.ErrorList {
	var errs field.ErrorList
	if ev.InvolvedObject.Namespace == "" && ev.Namespace != "default" && ev.Namespace != "kube-system" {
		errs = append(errs, field.Invalid(field.NewPath("involvedObject", "namespace"), ev.InvolvedObject.Namespace, "does not match event.namespace"))
	}
	rc := field.NewPath("reportingComponent")
	if ev.ReportingController == "" {
		errs = append(errs, field.Required(rc, ""))
	}
	for _, msg := range validation.IsQualifiedName(ev.ReportingController) {
		errs = append(errs, field.Invalid(rc, ev.ReportingController, msg))
	}
	limit := func(name, v string, n int) {
		if len(v) > n {
			errs = append(errs, field.Invalid(field.NewPath(name), "", fmt.Sprintf("can have at most %d characters", n)))
		}
	}
	for _, req := range []struct{ name, v string }{{"reportingInstance", ev.ReportingInstance}, {"action", ev.Action}, {"reason", ev.Reason}} {
		if req.v == "" {
			errs = append(errs, field.Required(field.NewPath(req.name), ""))
		}
	}
	limit("reportingInstance", ev.ReportingInstance, eventInstanceLim)
	limit("action", ev.Action, eventActionLimit)
	limit("reason", ev.Reason, eventReasonLimit)
	limit("message", ev.Message, eventNoteLimit)
	return errs
}

// Fields are the event field-selector set Kubernetes serves; "source" falls back to
// the reporting controller for events written by new-style recorders.
func (eventStrategy) Fields(obj runtime.Object) fields.Set {
	set := metaFields(obj)
	ev, ok := obj.(*corev1.Event)
	if !ok {
		return set
	}
	source := ev.Source.Component
	if source == "" {
		source = ev.ReportingController
	}
	io := ev.InvolvedObject
	set["involvedObject.kind"] = io.Kind
	set["involvedObject.namespace"] = io.Namespace
	set["involvedObject.name"] = io.Name
	set["involvedObject.uid"] = string(io.UID)
	set["involvedObject.apiVersion"] = io.APIVersion
	set["involvedObject.resourceVersion"] = io.ResourceVersion
	set["involvedObject.fieldPath"] = io.FieldPath
	set["reason"] = ev.Reason
	set["reportingComponent"] = ev.ReportingController
	set["source"] = source
	set["type"] = ev.Type
	// events.k8s.io/v1 names the same fields differently; both versions share storage.
	for k, v := range set {
		if rest, ok := strings.CutPrefix(k, "involvedObject."); ok {
			set["regarding."+rest] = v
		}
	}
	set["reportingController"] = ev.ReportingController
	set["deprecatedSource"] = source
	return set
}
