package resources

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	// Embedded zone data, so timeZone is validated the same on hosts without
	// /usr/share/zoneinfo (minimal images).
	_ "time/tzdata"

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
		if err := cronValidateSchedule(s.Schedule); err != nil {
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

// cronField is one of the five schedule fields: its range and, for month and day of
// week, the names it accepts.
type cronField struct {
	min, max int
	names    map[string]int
}

var cronFields = []cronField{
	{0, 59, nil}, // minute
	{0, 23, nil}, // hour
	{1, 31, nil}, // day of month
	{1, 12, map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}},
	{0, 6, map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}},
}

// cronValidateSchedule accepts what the CronJob controller can run: five fields of
// numbers, names, *, ?, ranges, steps and lists, or a descriptor such as @daily or
// "@every 1h". Errors are worded as the parser Kubernetes uses words them.
func cronValidateSchedule(spec string) error {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return errors.New("empty spec string")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		zone, rest, _ := strings.Cut(spec, " ")
		_, name, _ := strings.Cut(zone, "=")
		if _, err := time.LoadLocation(name); err != nil {
			return fmt.Errorf("provided bad location %s: %v", name, err)
		}
		spec = strings.TrimSpace(rest)
	}
	if strings.HasPrefix(spec, "@") {
		switch spec {
		case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
			return nil
		}
		if d, ok := strings.CutPrefix(spec, "@every "); ok {
			if _, err := time.ParseDuration(d); err != nil {
				return fmt.Errorf("failed to parse duration %s: %s", spec, err)
			}
			return nil
		}
		return fmt.Errorf("unrecognized descriptor: %s", spec)
	}
	fields := strings.Fields(spec)
	if len(fields) != len(cronFields) {
		return fmt.Errorf("expected exactly %d fields, found %d: %s", len(cronFields), len(fields), fields)
	}
	for i, f := range fields {
		for _, expr := range strings.Split(f, ",") {
			if err := cronFields[i].check(expr); err != nil {
				return err
			}
		}
	}
	return nil
}

// check validates one list element: *, N, N-M, with an optional /step.
func (c cronField) check(expr string) error {
	rng, step, hasStep := strings.Cut(expr, "/")
	if strings.Contains(step, "/") {
		return fmt.Errorf("too many slashes: %s", expr)
	}
	lo, hi := c.min, c.max
	if rng != "*" && rng != "?" {
		parts := strings.Split(rng, "-")
		if len(parts) > 2 {
			return fmt.Errorf("too many hyphens: %s", expr)
		}
		var err error
		if lo, err = c.number(parts[0], expr); err != nil {
			return err
		}
		hi = lo
		if len(parts) == 2 {
			if hi, err = c.number(parts[1], expr); err != nil {
				return err
			}
		} else if hasStep {
			hi = c.max // "N/step" means from N to the end of the range
		}
	}
	if hasStep {
		n, err := c.number(step, expr)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("step of range should be a positive number: %s", expr)
		}
	}
	switch {
	case lo < c.min:
		return fmt.Errorf("beginning of range (%d) below minimum (%d): %s", lo, c.min, expr)
	case hi > c.max:
		return fmt.Errorf("end of range (%d) above maximum (%d): %s", hi, c.max, expr)
	case lo > hi:
		return fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", lo, hi, expr)
	}
	return nil
}

func (c cronField) number(s, expr string) (int, error) {
	if n, ok := c.names[strings.ToLower(s)]; ok {
		return n, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("failed to parse int from %s: %s", s, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("negative number (%d) not allowed: %s", n, expr)
	}
	return n, nil
}
