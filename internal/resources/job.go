package resources

import (
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Labels a Job's pods carry so that its generated selector matches them and nothing
// else; the unprefixed ones are the legacy spellings, still set for old clients.
const (
	jobControllerUIDLabel       = batchv1.ControllerUidLabel
	jobNameLabel                = batchv1.JobNameLabel
	jobLegacyControllerUIDLabel = "controller-uid"
	jobLegacyNameLabel          = "job-name"
)

func (jobStrategy) Default(obj runtime.Object) {
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return
	}
	s := &job.Spec
	// A Job with neither set runs one pod to completion.
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = podPtr(int32(1))
	}
	if s.Parallelism == nil {
		s.Parallelism = podPtr(int32(1))
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			// Per-index limits take over; the global one must not cut them short.
			s.BackoffLimit = podPtr(int32(2147483647))
		} else {
			s.BackoffLimit = podPtr(int32(6))
		}
	}
	if s.CompletionMode == nil {
		s.CompletionMode = podPtr(batchv1.NonIndexedCompletion)
	}
	if s.Suspend == nil {
		s.Suspend = podPtr(false)
	}
	if s.PodReplacementPolicy == nil {
		if s.PodFailurePolicy != nil {
			s.PodReplacementPolicy = podPtr(batchv1.Failed)
		} else {
			s.PodReplacementPolicy = podPtr(batchv1.TerminatingOrFailed)
		}
	}
	if s.ManualSelector == nil {
		s.ManualSelector = podPtr(false)
	}
	if pfp := s.PodFailurePolicy; pfp != nil {
		for i := range pfp.Rules {
			for j := range pfp.Rules[i].OnPodConditions {
				if c := &pfp.Rules[i].OnPodConditions[j]; c.Status == "" {
					c.Status = corev1.ConditionTrue
				}
			}
		}
	}
	if len(job.Labels) == 0 && job.Spec.Template.Labels != nil {
		job.Labels = job.Spec.Template.Labels
	}
	defaultPodTemplateSpec(&s.Template)
}

// PrepareForCreate generates the selector from the Job's uid (set by now), unless the
// user chose to manage it. The uid makes the selector unique to this Job, so a new Job
// of the same name never adopts the pods of a deleted one.
func (s jobStrategy) PrepareForCreate(obj runtime.Object) {
	s.generic.PrepareForCreate(obj)
	job, ok := obj.(*batchv1.Job)
	if !ok || (job.Spec.ManualSelector != nil && *job.Spec.ManualSelector) {
		return
	}
	t := &job.Spec.Template
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	uid := string(job.UID)
	for k, v := range map[string]string{jobLegacyNameLabel: job.Name, jobNameLabel: job.Name,
		jobLegacyControllerUIDLabel: uid, jobControllerUIDLabel: uid} {
		if _, set := t.Labels[k]; !set { // a conflicting value is rejected by Validate
			t.Labels[k] = v
		}
	}
	if job.Spec.Selector == nil {
		job.Spec.Selector = &metav1.LabelSelector{}
	}
	if job.Spec.Selector.MatchLabels == nil {
		job.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, set := job.Spec.Selector.MatchLabels[jobControllerUIDLabel]; !set {
		job.Spec.Selector.MatchLabels[jobControllerUIDLabel] = uid
	}
	// Defaulting copies template labels to an unlabelled Job; Kubernetes does that
	// again when the stored object is read back, after the labels above exist. It
	// happens after validation there, so invalid labels are reported only once, on
	// the template, as Kubernetes reports them.
	if len(job.Labels) == 0 && len(metav1validation.ValidateLabels(t.Labels, field.NewPath("labels"))) == 0 {
		job.Labels = map[string]string{}
		for k, v := range t.Labels {
			job.Labels[k] = v
		}
	}
}

func (jobStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return nil
	}
	sp := field.NewPath("spec")
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validateJobSpec(&job.Spec, sp, false)...)
	if job.Spec.ManualSelector == nil || !*job.Spec.ManualSelector {
		errs = append(errs, validateJobGeneratedLabels(job, sp.Child("template", "metadata"))...)
	}
	if o, ok := old.(*batchv1.Job); ok {
		errs = append(errs, validateJobUpdate(&job.Spec, &o.Spec, o.Status.StartTime == nil, sp)...)
	}
	return errs
}

// validateJobSpec checks a Job's spec, or (inTemplate) the spec inside a CronJob's
// jobTemplate, where the selector is generated later and may not be given.
func validateJobSpec(s *batchv1.JobSpec, p *field.Path, inTemplate bool) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateWorkloadCount(s.Parallelism, p.Child("parallelism"))...)
	errs = append(errs, validateWorkloadCount(s.Completions, p.Child("completions"))...)
	errs = append(errs, validateWorkloadCount(s.ActiveDeadlineSeconds, p.Child("activeDeadlineSeconds"))...)
	errs = append(errs, validateWorkloadCount(s.BackoffLimit, p.Child("backoffLimit"))...)
	errs = append(errs, validateWorkloadCount(s.TTLSecondsAfterFinished, p.Child("ttlSecondsAfterFinished"))...)
	errs = append(errs, validateWorkloadCount(s.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	if m := s.CompletionMode; m != nil {
		errs = append(errs, podOneOf(p.Child("completionMode"), *m, batchv1.NonIndexedCompletion, batchv1.IndexedCompletion)...)
		// An index runs from 0 to completions-1: without completions there is no range.
		if *m == batchv1.IndexedCompletion && s.Completions == nil {
			errs = append(errs, field.Required(p.Child("completions"), "when completion mode is Indexed"))
		}
	}
	if s.BackoffLimitPerIndex != nil && (s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion) {
		errs = append(errs, field.Forbidden(p.Child("backoffLimitPerIndex"), "requires indexed completion mode"))
	}
	if r := s.PodReplacementPolicy; r != nil {
		if s.PodFailurePolicy != nil && *r != batchv1.Failed {
			errs = append(errs, field.NotSupported(p.Child("podReplacementPolicy"), *r, []string{string(batchv1.Failed)}))
		} else {
			errs = append(errs, podOneOf(p.Child("podReplacementPolicy"), *r, batchv1.TerminatingOrFailed, batchv1.Failed)...)
		}
	}
	if inTemplate {
		if s.Selector != nil {
			errs = append(errs, field.Invalid(p.Child("selector"), s.Selector, "`selector` will be auto-generated"))
		}
		if s.ManualSelector != nil && *s.ManualSelector {
			errs = append(errs, field.NotSupported(p.Child("manualSelector"), s.ManualSelector, []string{"nil", "false"}))
		}
	} else if s.Selector == nil {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
		if sel, err := metav1.LabelSelectorAsSelector(s.Selector); err == nil && !sel.Matches(labels.Set(s.Template.Labels)) {
			errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), s.Template.Labels, workloadSelectorMismatch))
		}
	}
	tp := p.Child("template")
	errs = append(errs, validatePodTemplateSpec(&s.Template, tp)...)
	// A Job's pods must be able to finish; Always would restart them forever.
	if rp := s.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever {
		errs = append(errs, field.NotSupported(tp.Child("spec", "restartPolicy"), rp,
			[]string{string(corev1.RestartPolicyOnFailure), string(corev1.RestartPolicyNever)}))
	}
	return errs
}

// validateJobGeneratedLabels checks that the labels PrepareForCreate generated were
// not overridden with values that would let the Job adopt someone else's pods.
func validateJobGeneratedLabels(job *batchv1.Job, p *field.Path) field.ErrorList {
	if job.UID == "" {
		return nil // not created yet: nothing was generated
	}
	var errs field.ErrorList
	uid := string(job.UID)
	for _, want := range []struct{ key, value string }{{jobLegacyControllerUIDLabel, uid},
		{jobLegacyNameLabel, job.Name}, {jobControllerUIDLabel, uid}, {jobNameLabel, job.Name}} {
		lp := p.Child("labels").Key(want.key)
		got, ok := job.Spec.Template.Labels[want.key]
		switch {
		case !ok:
			errs = append(errs, field.Required(lp, "must be '"+want.value+"'"))
		case got != want.value:
			errs = append(errs, field.Invalid(lp, job.Spec.Template.Labels, "must be '"+want.value+"'"))
		}
	}
	return errs
}

// validateJobUpdate: a Job's pods are counted against its spec, so what they are and
// how they are counted may not change mid-run. A suspended Job that never started may
// still be re-targeted (labels, annotations, placement), which is how queueing
// systems use it.
func validateJobUpdate(s, old *batchv1.JobSpec, neverStarted bool, p *field.Path) field.ErrorList {
	errs := apivalidation.ValidateImmutableField(s.Selector, old.Selector, p.Child("selector"))
	errs = append(errs, apivalidation.ValidateImmutableField(s.CompletionMode, old.CompletionMode, p.Child("completionMode"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(s.PodFailurePolicy, old.PodFailurePolicy, p.Child("podFailurePolicy"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(s.BackoffLimitPerIndex, old.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	// Indexed Jobs are elastic: completions may follow parallelism, kept equal.
	elastic := s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion &&
		s.Completions != nil && s.Parallelism != nil && *s.Completions == *s.Parallelism
	if !elastic {
		errs = append(errs, apivalidation.ValidateImmutableField(s.Completions, old.Completions, p.Child("completions"))...)
	}
	t := s.Template.DeepCopy()
	if old.Suspend != nil && *old.Suspend && neverStarted {
		o := &old.Template
		t.Labels, t.Annotations = o.Labels, o.Annotations
		t.Spec.NodeSelector, t.Spec.Tolerations, t.Spec.Affinity = o.Spec.NodeSelector, o.Spec.Tolerations, o.Spec.Affinity
		t.Spec.SchedulingGates = o.Spec.SchedulingGates
	}
	if !equality.Semantic.DeepEqual(*t, old.Template) {
		errs = append(errs, field.Invalid(p.Child("template"), s.Template, apivalidation.FieldImmutableErrorMsg))
	}
	return errs
}

func (jobStrategy) Fields(obj runtime.Object) fields.Set {
	set := metaFields(obj)
	if job, ok := obj.(*batchv1.Job); ok {
		set["status.successful"] = strconv.Itoa(int(job.Status.Succeeded))
	}
	return set
}
