package resources

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	// Embedded zone data, so timeZone is validated the same on hosts without
	// /usr/share/zoneinfo (minimal images).
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// cronJobMaxName leaves room for the "-<minutes since epoch>" suffix of the Jobs a
// CronJob creates, whose names must still fit a 63-character label value.
const cronJobMaxName = 52

var cronJobZonePart = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)

func (cronJobStrategy) Default(obj runtime.Object) {
	cj, ok := obj.(*batchv1.CronJob)
	if !ok {
		return
	}
	s := &cj.Spec
	if s.ConcurrencyPolicy == "" {
		s.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if s.Suspend == nil {
		s.Suspend = podPtr(false)
	}
	if s.SuccessfulJobsHistoryLimit == nil {
		s.SuccessfulJobsHistoryLimit = podPtr(int32(3))
	}
	if s.FailedJobsHistoryLimit == nil {
		s.FailedJobsHistoryLimit = podPtr(int32(1))
	}
	// Only the pod template is defaulted: the Job's own defaults are applied when the
	// CronJob controller creates each Job.
	defaultPodTemplateSpec(&s.JobTemplate.Spec.Template)
}

func (cronJobStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	cj, ok := obj.(*batchv1.CronJob)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	if len(cj.Name) > cronJobMaxName {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), cj.Name, fmt.Sprintf("must be no more than %d characters", cronJobMaxName)))
	}
	s := &cj.Spec
	sp := field.NewPath("spec")
	if s.Schedule == "" {
		errs = append(errs, field.Required(sp.Child("schedule"), ""))
	} else {
		// The parser the controller runs the schedule with (and Kubernetes validates
		// with), so whatever is accepted here also runs.
		if _, err := cron.ParseStandard(s.Schedule); err != nil {
			errs = append(errs, field.Invalid(sp.Child("schedule"), s.Schedule, err.Error()))
		}
		// Zones belong in timeZone; objects that already had one in the schedule keep it.
		oldTZ := false
		if o, ok := old.(*batchv1.CronJob); ok {
			oldTZ = strings.Contains(o.Spec.Schedule, "TZ")
		}
		switch {
		case strings.Contains(s.Schedule, "TZ") && s.TimeZone != nil:
			errs = append(errs, field.Invalid(sp.Child("schedule"), s.Schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
		case strings.Contains(s.Schedule, "TZ") && !oldTZ:
			errs = append(errs, field.Invalid(sp.Child("schedule"), s.Schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
		}
	}
	errs = append(errs, cronValidateTimeZone(s.TimeZone, sp.Child("timeZone"))...)
	errs = append(errs, podOneOf(sp.Child("concurrencyPolicy"), s.ConcurrencyPolicy,
		batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent)...)
	errs = append(errs, validateWorkloadCount(s.StartingDeadlineSeconds, sp.Child("startingDeadlineSeconds"))...)
	errs = append(errs, validateWorkloadCount(s.SuccessfulJobsHistoryLimit, sp.Child("successfulJobsHistoryLimit"))...)
	errs = append(errs, validateWorkloadCount(s.FailedJobsHistoryLimit, sp.Child("failedJobsHistoryLimit"))...)
	jp := sp.Child("jobTemplate")
	errs = append(errs, metav1validation.ValidateLabels(s.JobTemplate.Labels, jp.Child("metadata", "labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(s.JobTemplate.Annotations, jp.Child("metadata", "annotations"))...)
	return append(errs, validateJobSpec(&s.JobTemplate.Spec, jp.Child("spec"), true)...)
}

func cronValidateTimeZone(tz *string, p *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(p, tz, "timeZone must be nil or non-empty string")}
	}
	// Reject paths before asking the zone database, which would read them as files.
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !cronJobZonePart.MatchString(part) {
			return field.ErrorList{field.Invalid(p, tz, "unknown time zone "+*tz)}
		}
	}
	// "Local" would mean whatever zone the controller happens to run in.
	if strings.EqualFold(*tz, "Local") {
		return field.ErrorList{field.Invalid(p, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")}
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		return field.ErrorList{field.Invalid(p, tz, err.Error())}
	}
	return nil
}
