package resources

import (
	"crypto/x509"
	"encoding/pem"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// csrStrategy splits a CertificateSigningRequest three ways, as Kubernetes does: the
// requester writes the spec, approvers write the Approved/Denied conditions through
// the approval subresource, and signers write the certificate through status.
type csrStrategy struct{ generic }

// PrepareForUpdate keeps what each subresource may not change.
func (csrStrategy) PrepareForUpdate(obj, old runtime.Object, subresource string) {
	csr, prev := obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest)
	switch subresource {
	case "approval":
		conditions := csr.Status.Conditions
		keepAllBut(obj, old, "Status")
		csr.Status = *prev.Status.DeepCopy()
		csr.Status.Conditions = conditions
	case "status":
		status := csr.Status
		keepAllBut(obj, old, "Status")
		csr.Status = status
		// Approval is the approval subresource's alone.
		csr.Status.Conditions = keepApproval(prev.Status.Conditions, status.Conditions)
	default:
		csr.Spec = *prev.Spec.DeepCopy()
		csr.Status = *prev.Status.DeepCopy()
	}
}

// keepApproval replaces the Approved and Denied conditions of next by those of prev.
func keepApproval(prev, next []certificatesv1.CertificateSigningRequestCondition) []certificatesv1.CertificateSigningRequestCondition {
	var out []certificatesv1.CertificateSigningRequestCondition
	for _, c := range prev {
		if isApproval(c.Type) {
			out = append(out, c)
		}
	}
	for _, c := range next {
		if !isApproval(c.Type) {
			out = append(out, c)
		}
	}
	return out
}

func isApproval(t certificatesv1.RequestConditionType) bool {
	return t == certificatesv1.CertificateApproved || t == certificatesv1.CertificateDenied
}

var csrUsages = sets.New(
	"signing", "digital signature", "content commitment", "key encipherment", "key agreement", "data encipherment",
	"cert sign", "crl sign", "encipher only", "decipher only", "any", "server auth", "client auth", "code signing",
	"email protection", "s/mime", "ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
	"microsoft sgc", "netscape sgc")

func (csrStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	csr := obj.(*certificatesv1.CertificateSigningRequest)
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	sp := field.NewPath("spec")
	if block, _ := pem.Decode(csr.Spec.Request); block == nil || block.Type != "CERTIFICATE REQUEST" {
		errs = append(errs, field.Invalid(sp.Child("request"), "", "must be a PEM-encoded CERTIFICATE REQUEST"))
	} else if _, err := x509.ParseCertificateRequest(block.Bytes); err != nil {
		errs = append(errs, field.Invalid(sp.Child("request"), "", err.Error()))
	}
	if csr.Spec.SignerName == "" {
		errs = append(errs, field.Required(sp.Child("signerName"), ""))
	}
	if len(csr.Spec.Usages) == 0 {
		errs = append(errs, field.Required(sp.Child("usages"), ""))
	}
	for i, u := range csr.Spec.Usages {
		if !csrUsages.Has(string(u)) {
			errs = append(errs, field.NotSupported(sp.Child("usages").Index(i), u, sets.List(csrUsages)))
		}
	}
	if s := csr.Spec.ExpirationSeconds; s != nil && *s < 600 {
		errs = append(errs, field.Invalid(sp.Child("expirationSeconds"), *s, "may not specify a duration less than 600 seconds (10 minutes)"))
	}
	return append(errs, validateCSRStatus(csr, old)...)
}

func validateCSRStatus(csr *certificatesv1.CertificateSigningRequest, old runtime.Object) field.ErrorList {
	var errs field.ErrorList
	cp := field.NewPath("status", "conditions")
	seen := map[certificatesv1.RequestConditionType]bool{}
	for i, c := range csr.Status.Conditions {
		if seen[c.Type] {
			errs = append(errs, field.Duplicate(cp.Index(i).Child("type"), c.Type))
		}
		seen[c.Type] = true
		if c.Status != corev1.ConditionTrue && c.Status != corev1.ConditionFalse && c.Status != corev1.ConditionUnknown {
			errs = append(errs, field.NotSupported(cp.Index(i).Child("status"), c.Status, []string{"True", "False", "Unknown"}))
		}
	}
	if seen[certificatesv1.CertificateApproved] && seen[certificatesv1.CertificateDenied] {
		errs = append(errs, field.Invalid(cp, csr.Status.Conditions, "Approved and Denied conditions are mutually exclusive"))
	}
	if prev, ok := old.(*certificatesv1.CertificateSigningRequest); ok && len(prev.Status.Certificate) > 0 &&
		string(prev.Status.Certificate) != string(csr.Status.Certificate) {
		errs = append(errs, field.Invalid(field.NewPath("status", "certificate"), "", "updates may not modify existing certificate content"))
	}
	if len(csr.Status.Certificate) > 0 && !seen[certificatesv1.CertificateApproved] {
		errs = append(errs, field.Forbidden(field.NewPath("status", "certificate"), "may only be set on an approved request"))
	}
	return errs
}

func (csrStrategy) Fields(obj runtime.Object) fields.Set {
	set := metaFields(obj)
	set["spec.signerName"] = obj.(*certificatesv1.CertificateSigningRequest).Spec.SignerName
	return set
}
