package apiextensions

import (
	"fmt"
	"slices"

	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// Status is the status a CRD should have, given the other CRDs of the cluster:
// the names it may use (those no other CRD of its group has taken), whether they
// are all accepted, whether it is established (served; once true it stays true),
// and its storage version recorded in storedVersions. A name clash leaves the
// names accepted before in place and says which name clashes.
func Status(crd *apiextensionsv1.CustomResourceDefinition, others []*apiextensionsv1.CustomResourceDefinition) apiextensionsv1.CustomResourceDefinitionStatus {
	out := crd.DeepCopy()
	resources, kinds := takenNames(crd, others)
	want, had := crd.Spec.Names, crd.Status.AcceptedNames
	names := had
	accepted := apiextensionsv1.CustomResourceDefinitionCondition{Type: apiextensionsv1.NamesAccepted,
		Status: apiextensionsv1.ConditionTrue, Reason: "NoConflicts", Message: "no conflicts found"}
	clash := func(reason, name string) {
		accepted.Status, accepted.Reason = apiextensionsv1.ConditionFalse, reason
		accepted.Message = fmt.Sprintf("%q is already in use", name)
	}
	check := func(reason, wanted, had string, taken map[string]bool, set *string) {
		if wanted != had && taken[wanted] {
			clash(reason, wanted)
			return
		}
		*set = wanted
	}
	check("PluralConflict", want.Plural, had.Plural, resources, &names.Plural)
	check("SingularConflict", want.Singular, had.Singular, resources, &names.Singular)
	shortOK := true
	for _, s := range want.ShortNames {
		if !slices.Contains(had.ShortNames, s) && resources[s] {
			clash("ShortNamesConflict", s)
			shortOK = false
		}
	}
	if shortOK {
		names.ShortNames = want.ShortNames
	}
	check("KindConflict", want.Kind, had.Kind, kinds, &names.Kind)
	check("ListKindConflict", want.ListKind, had.ListKind, kinds, &names.ListKind)
	names.Categories = want.Categories
	out.Status.AcceptedNames = names
	apihelpers.SetCRDCondition(out, accepted)

	if !apihelpers.IsCRDConditionTrue(crd, apiextensionsv1.Established) {
		established := apiextensionsv1.CustomResourceDefinitionCondition{Type: apiextensionsv1.Established,
			Status: apiextensionsv1.ConditionFalse, Reason: "NotAccepted", Message: "not all names are accepted"}
		if accepted.Status == apiextensionsv1.ConditionTrue {
			established.Status, established.Reason = apiextensionsv1.ConditionTrue, "InitialNamesAccepted"
			established.Message = "the initial names have been accepted"
		}
		apihelpers.SetCRDCondition(out, established)
	}
	for _, v := range crd.Spec.Versions {
		if v.Storage && !slices.Contains(out.Status.StoredVersions, v.Name) {
			out.Status.StoredVersions = append(out.Status.StoredVersions, v.Name)
		}
	}
	return out.Status
}

// takenNames are the resource names (plural, singular, short) and kinds other CRDs
// of the same group have been given.
func takenNames(crd *apiextensionsv1.CustomResourceDefinition, others []*apiextensionsv1.CustomResourceDefinition) (resources, kinds map[string]bool) {
	resources, kinds = map[string]bool{}, map[string]bool{}
	for _, o := range others {
		if o.Name == crd.Name || o.Spec.Group != crd.Spec.Group {
			continue
		}
		n := o.Status.AcceptedNames
		for _, r := range append([]string{n.Plural, n.Singular}, n.ShortNames...) {
			if r != "" {
				resources[r] = true
			}
		}
		for _, k := range []string{n.Kind, n.ListKind} {
			if k != "" {
				kinds[k] = true
			}
		}
	}
	return resources, kinds
}

// Established reports a CRD whose objects are served.
func Established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	return apihelpers.IsCRDConditionTrue(crd, apiextensionsv1.Established)
}

// Terminating marks a CRD whose objects are being deleted before it goes.
func Terminating(crd *apiextensionsv1.CustomResourceDefinition, message string) {
	apihelpers.SetCRDCondition(crd, apiextensionsv1.CustomResourceDefinitionCondition{Type: apiextensionsv1.Terminating,
		Status: apiextensionsv1.ConditionTrue, Reason: "InstanceDeletionInProgress", Message: message})
}
