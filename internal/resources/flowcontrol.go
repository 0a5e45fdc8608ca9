package resources

import (
	"fmt"
	"strings"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/util/shufflesharding"
	"k8s.io/utils/ptr"
)

// FlowSchemas and PriorityLevelConfigurations configure API Priority and Fairness
// (internal/apiserver/flowcontrol.go). They are defaulted as Kubernetes defaults
// them, and validated for what the config controller relies on: a level is of one
// type with that type's settings, queues can be dealt hands from, a schema names a
// level and matches something.
type (
	flowSchemaStrategy    struct{ generic }
	priorityLevelStrategy struct{ generic }
)

func (flowSchemaStrategy) Default(obj runtime.Object)    { DefaultFlowControl(obj) }
func (priorityLevelStrategy) Default(obj runtime.Object) { DefaultFlowControl(obj) }

// DefaultFlowControl fills a FlowSchema's or PriorityLevelConfiguration's unset
// fields with Kubernetes' defaults.
func DefaultFlowControl(obj runtime.Object) {
	switch o := obj.(type) {
	case *flowcontrolv1.FlowSchema:
		if o.Spec.MatchingPrecedence == 0 {
			o.Spec.MatchingPrecedence = 1000
		}
	case *flowcontrolv1.PriorityLevelConfiguration:
		if e := o.Spec.Exempt; e != nil {
			e.NominalConcurrencyShares = ptr.To(ptr.Deref(e.NominalConcurrencyShares, 0))
			e.LendablePercent = ptr.To(ptr.Deref(e.LendablePercent, 0))
		}
		l := o.Spec.Limited
		if l == nil {
			return
		}
		if l.NominalConcurrencyShares == nil {
			l.NominalConcurrencyShares = ptr.To[int32](30)
		}
		l.LendablePercent = ptr.To(ptr.Deref(l.LendablePercent, 0))
		if q := l.LimitResponse.Queuing; q != nil {
			q.HandSize = orDefault(q.HandSize, 8)
			q.Queues = orDefault(q.Queues, 64)
			q.QueueLengthLimit = orDefault(q.QueueLengthLimit, 50)
		}
	}
}

func orDefault(v, d int32) int32 {
	if v == 0 {
		return d
	}
	return v
}

func (flowSchemaStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	errs := generic{}.Validate(obj, old)
	fs, ok := obj.(*flowcontrolv1.FlowSchema)
	if !ok {
		return errs
	}
	spec := field.NewPath("spec")
	if fs.Spec.PriorityLevelConfiguration.Name == "" {
		errs = append(errs, field.Required(spec.Child("priorityLevelConfiguration", "name"), "must reference a priority level"))
	}
	if p := fs.Spec.MatchingPrecedence; p <= 0 || p > 10000 {
		errs = append(errs, field.Invalid(spec.Child("matchingPrecedence"), p, "must be between 1 and 10000, inclusive"))
	}
	if dm := fs.Spec.DistinguisherMethod; dm != nil && dm.Type != flowcontrolv1.FlowDistinguisherMethodByUserType && dm.Type != flowcontrolv1.FlowDistinguisherMethodByNamespaceType {
		errs = append(errs, field.NotSupported(spec.Child("distinguisherMethod", "type"), dm.Type, []string{"ByUser", "ByNamespace"}))
	}
	for i, rule := range fs.Spec.Rules {
		p := spec.Child("rules").Index(i)
		if len(rule.Subjects) == 0 {
			errs = append(errs, field.Required(p.Child("subjects"), "subjects must contain at least one value"))
		}
		for j, s := range rule.Subjects {
			errs = append(errs, validateSubject(s, p.Child("subjects").Index(j))...)
		}
		if len(rule.ResourceRules) == 0 && len(rule.NonResourceRules) == 0 {
			errs = append(errs, field.Required(p, "at least one of resourceRules and nonResourceRules has to be non-empty"))
		}
		for j, r := range rule.ResourceRules {
			rp := p.Child("resourceRules").Index(j)
			errs = append(errs, requireSome(rp, map[string][]string{"verbs": r.Verbs, "apiGroups": r.APIGroups, "resources": r.Resources})...)
			if len(r.Namespaces) == 0 && !r.ClusterScope {
				errs = append(errs, field.Required(rp.Child("namespaces"), "resource rules that are not cluster scoped must supply at least one namespace"))
			}
		}
		for j, r := range rule.NonResourceRules {
			rp := p.Child("nonResourceRules").Index(j)
			errs = append(errs, requireSome(rp, map[string][]string{"verbs": r.Verbs, "nonResourceURLs": r.NonResourceURLs})...)
			for k, u := range r.NonResourceURLs {
				if u != "*" && !strings.HasPrefix(u, "/") {
					errs = append(errs, field.Invalid(rp.Child("nonResourceURLs").Index(k), u, "must start with slash"))
				}
			}
		}
	}
	return errs
}

func validateSubject(s flowcontrolv1.Subject, p *field.Path) field.ErrorList {
	set := map[flowcontrolv1.SubjectKind]bool{flowcontrolv1.SubjectKindUser: s.User != nil,
		flowcontrolv1.SubjectKindGroup: s.Group != nil, flowcontrolv1.SubjectKindServiceAccount: s.ServiceAccount != nil}
	has, known := set[s.Kind]
	switch {
	case !known:
		return field.ErrorList{field.NotSupported(p.Child("kind"), s.Kind, []string{"Group", "ServiceAccount", "User"})}
	case !has:
		return field.ErrorList{field.Required(p.Child(strings.ToLower(string(s.Kind[:1]))+string(s.Kind[1:])), fmt.Sprintf("must be set for a subject of kind %s", s.Kind))}
	case s.User != nil && s.User.Name == "", s.Group != nil && s.Group.Name == "":
		return field.ErrorList{field.Required(p, "name must not be empty")}
	case s.ServiceAccount != nil && (s.ServiceAccount.Name == "" || s.ServiceAccount.Namespace == ""):
		return field.ErrorList{field.Required(p.Child("serviceAccount"), "name and namespace must not be empty")}
	}
	return nil
}

// requireSome reports each named list that is empty.
func requireSome(p *field.Path, lists map[string][]string) field.ErrorList {
	var errs field.ErrorList
	for name, l := range lists {
		if len(l) == 0 {
			errs = append(errs, field.Required(p.Child(name), name+" must contain at least one value"))
		}
	}
	return errs
}

func (priorityLevelStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	errs := generic{}.Validate(obj, old)
	pl, ok := obj.(*flowcontrolv1.PriorityLevelConfiguration)
	if !ok {
		return errs
	}
	spec := field.NewPath("spec")
	switch pl.Spec.Type {
	case flowcontrolv1.PriorityLevelEnablementExempt:
		if pl.Spec.Limited != nil {
			errs = append(errs, field.Forbidden(spec.Child("limited"), "must be nil if the type is not Limited"))
		}
		if e := pl.Spec.Exempt; e != nil {
			errs = append(errs, shares(spec.Child("exempt"), e.NominalConcurrencyShares, e.LendablePercent)...)
		}
	case flowcontrolv1.PriorityLevelEnablementLimited:
		if pl.Spec.Exempt != nil {
			errs = append(errs, field.Forbidden(spec.Child("exempt"), "must be nil if the type is Limited"))
		}
		l := pl.Spec.Limited
		if l == nil {
			return append(errs, field.Required(spec.Child("limited"), "must not be empty when type is Limited"))
		}
		lp := spec.Child("limited")
		errs = append(errs, shares(lp, l.NominalConcurrencyShares, l.LendablePercent)...)
		if b := l.BorrowingLimitPercent; b != nil && *b < 0 {
			errs = append(errs, field.Invalid(lp.Child("borrowingLimitPercent"), *b, "if specified, must be a non-negative integer"))
		}
		errs = append(errs, validateLimitResponse(l.LimitResponse, lp.Child("limitResponse"))...)
	default:
		errs = append(errs, field.NotSupported(spec.Child("type"), pl.Spec.Type, []string{"Exempt", "Limited"}))
	}
	return errs
}

func shares(p *field.Path, nominal, lendable *int32) field.ErrorList {
	var errs field.ErrorList
	if nominal != nil && *nominal < 0 {
		errs = append(errs, field.Invalid(p.Child("nominalConcurrencyShares"), *nominal, "must be a non-negative integer"))
	}
	if lendable != nil && (*lendable < 0 || *lendable > 100) {
		errs = append(errs, field.Invalid(p.Child("lendablePercent"), *lendable, "must be between 0 and 100, inclusive"))
	}
	return errs
}

func validateLimitResponse(lr flowcontrolv1.LimitResponse, p *field.Path) field.ErrorList {
	switch lr.Type {
	case flowcontrolv1.LimitResponseTypeReject:
		if lr.Queuing != nil {
			return field.ErrorList{field.Forbidden(p.Child("queuing"), "must be nil if limited.limitResponse.type is not Limited")}
		}
	case flowcontrolv1.LimitResponseTypeQueue:
		q := lr.Queuing
		if q == nil {
			return field.ErrorList{field.Required(p.Child("queuing"), "must not be empty if limited.limitResponse.type is Limited")}
		}
		qp := p.Child("queuing")
		var errs field.ErrorList
		if q.QueueLengthLimit <= 0 {
			errs = append(errs, field.Invalid(qp.Child("queueLengthLimit"), q.QueueLengthLimit, "must be positive"))
		}
		if q.Queues <= 0 {
			errs = append(errs, field.Invalid(qp.Child("queues"), q.Queues, "must be positive"))
		}
		switch {
		case q.HandSize <= 0 || q.HandSize > q.Queues:
			errs = append(errs, field.Invalid(qp.Child("handSize"), q.HandSize, fmt.Sprintf("should not be greater than queues (%d) nor less than 1", q.Queues)))
		case shufflesharding.RequiredEntropyBits(int(q.Queues), int(q.HandSize)) > shufflesharding.MaxHashBits:
			// The queues a flow may use are dealt from a 64-bit hash.
			errs = append(errs, field.Invalid(qp.Child("handSize"), q.HandSize, fmt.Sprintf("required entropy bits of queues %d and handSize %d should not be greater than %d", q.Queues, q.HandSize, shufflesharding.MaxHashBits)))
		}
		return errs
	default:
		return field.ErrorList{field.NotSupported(p.Child("type"), lr.Type, []string{"Queue", "Reject"})}
	}
	return nil
}
