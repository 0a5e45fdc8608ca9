package resources

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/mail"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// A PodCertificateRequest is the kubelet asking a signer for a pod's certificate (the
// podCertificate projected volume): the kubelet writes the spec, the signer the
// status, once, with Issued (and the certificate chain), Denied or Failed.
type podCertificateRequestStrategy struct{ generic }

// Limits on podCertificate lifetimes and sizes, as in Kubernetes.
const (
	PodCertMinExpirationSeconds     = 3600           // 1 hour
	PodCertMaxExpirationSeconds     = 91 * 24 * 3600 // 91 days
	podCertKubernetesMaxExpiration  = 24 * 3600      // for kubernetes.io signers
	PodCertDefaultExpirationSeconds = 24 * 3600
	podCertMaxStubRequestSize       = 10 * 1024
	podCertMaxChainSize             = 100 * 1024
)

// podCertMaxExpiration is the longest lifetime a signer may be asked for.
func podCertMaxExpiration(signer string) int32 {
	if isKubernetesSigner(signer) {
		return podCertKubernetesMaxExpiration
	}
	return PodCertMaxExpirationSeconds
}

// Default fills maxExpirationSeconds: the kubelet leaves it unset when the pod does.
func (podCertificateRequestStrategy) Default(obj runtime.Object) {
	if pcr, ok := obj.(*certificatesv1.PodCertificateRequest); ok && pcr.Spec.MaxExpirationSeconds == nil {
		d := int32(PodCertDefaultExpirationSeconds)
		pcr.Spec.MaxExpirationSeconds = &d
	}
}

// PrepareForUpdate: a status write changes status only (not even labels), any
// other write everything but status.
func (s podCertificateRequestStrategy) PrepareForUpdate(obj, old runtime.Object, subresource string) {
	s.generic.PrepareForUpdate(obj, old, subresource)
	if subresource == "status" {
		resetMetaForStatus(obj, old)
	}
}

func (podCertificateRequestStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	pcr := obj.(*certificatesv1.PodCertificateRequest)
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	prev, _ := old.(*certificatesv1.PodCertificateRequest)
	if prev == nil {
		return append(errs, validatePodCertSpec(&pcr.Spec)...)
	}
	if !apiequality.Semantic.DeepEqual(pcr.Spec, prev.Spec) {
		errs = append(errs, field.Invalid(field.NewPath("spec"), field.OmitValueType{}, "field is immutable"))
	}
	return append(errs, validatePodCertStatus(pcr, prev, time.Now())...)
}

// Fields: the kubelet watches the requests of its node, signers theirs.
func (podCertificateRequestStrategy) Fields(obj runtime.Object) fields.Set {
	set := metaFields(obj)
	pcr := obj.(*certificatesv1.PodCertificateRequest)
	set["spec.signerName"] = pcr.Spec.SignerName
	set["spec.nodeName"] = string(pcr.Spec.NodeName)
	set["spec.podName"] = pcr.Spec.PodName
	return set
}

func validatePodCertSpec(s *certificatesv1.PodCertificateRequestSpec) field.ErrorList {
	sp := field.NewPath("spec")
	errs := validateSignerName(sp.Child("signerName"), s.SignerName)
	if s.UnverifiedUserAnnotations != nil {
		errs = append(errs, validateUserAnnotations(s.UnverifiedUserAnnotations, sp.Child("unverifiedUserAnnotations"))...)
	}
	for _, msg := range apivalidation.NameIsDNSSubdomain(s.PodName, false) {
		errs = append(errs, field.Invalid(sp.Child("podName"), s.PodName, msg))
	}
	for _, msg := range apivalidation.NameIsDNSSubdomain(s.ServiceAccountName, false) {
		errs = append(errs, field.Invalid(sp.Child("serviceAccountName"), s.ServiceAccountName, msg))
	}
	for _, msg := range apivalidation.NameIsDNSSubdomain(string(s.NodeName), false) {
		errs = append(errs, field.Invalid(sp.Child("nodeName"), s.NodeName, msg))
	}
	for name, uid := range map[string]string{"podUID": string(s.PodUID), "serviceAccountUID": string(s.ServiceAccountUID), "nodeUID": string(s.NodeUID)} {
		switch {
		case uid == "":
			errs = append(errs, field.Invalid(sp.Child(name), uid, "must not be empty"))
		case len(uid) > 128:
			errs = append(errs, field.TooLong(sp.Child(name), "", 128))
		}
	}
	mp := sp.Child("maxExpirationSeconds")
	if s.MaxExpirationSeconds == nil {
		errs = append(errs, field.Required(mp, "must be set"))
	} else if max := podCertMaxExpiration(s.SignerName); *s.MaxExpirationSeconds < PodCertMinExpirationSeconds || *s.MaxExpirationSeconds > max {
		errs = append(errs, field.Invalid(mp, *s.MaxExpirationSeconds, fmt.Sprintf("must be in the range [%d, %d]", PodCertMinExpirationSeconds, max)))
	}
	return append(errs, validateStubRequest(s.StubPKCS10Request, sp.Child("stubPKCS10Request"))...)
}

// validateUserAnnotations: domain-prefixed keys, and no more than annotations may hold.
func validateUserAnnotations(a map[string]string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for k := range a {
		errs = append(errs, validation.IsDomainPrefixedKey(p, strings.ToLower(k))...)
	}
	if err := apivalidation.ValidateAnnotationsSize(a); err != nil {
		errs = append(errs, field.TooLong(p, "", apivalidation.TotalAnnotationSizeLimitB))
	}
	return errs
}

// validateStubRequest: a signed PKCS#10 request for a key type signers are asked to
// support; its subject and extensions are the signer's business.
func validateStubRequest(der []byte, p *field.Path) field.ErrorList {
	if len(der) > podCertMaxStubRequestSize {
		return field.ErrorList{field.TooLong(p, "", podCertMaxStubRequestSize)}
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return field.ErrorList{field.Invalid(p, field.OmitValueType{}, "must be a valid PKCS#10 CSR")}
	}
	if msg := unsupportedKey(req.PublicKey); msg != "" {
		return field.ErrorList{field.Invalid(p, field.OmitValueType{}, msg)}
	}
	if err := req.CheckSignature(); err != nil {
		return field.ErrorList{field.Invalid(p, field.OmitValueType{}, "invalid signature")}
	}
	return nil
}

func unsupportedKey(pub any) string {
	switch k := pub.(type) {
	case ed25519.PublicKey:
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
			return "elliptic public keys must use curve P256, P384, or P521"
		}
	case *rsa.PublicKey:
		if bits := k.Size() * 8; bits != 3072 && bits != 4096 {
			return "RSA keys must have modulus size 3072 or 4096"
		}
	default:
		return "unknown public key type; supported types are Ed25519, ECDSA, and RSA"
	}
	return ""
}

// podCertTerminal is the Issued, Denied or Failed condition, or "".
func podCertTerminal(pcr *certificatesv1.PodCertificateRequest) string {
	for _, c := range pcr.Status.Conditions {
		switch c.Type {
		case certificatesv1.PodCertificateRequestConditionTypeIssued, certificatesv1.PodCertificateRequestConditionTypeDenied,
			certificatesv1.PodCertificateRequestConditionTypeFailed:
			if c.Status == metav1.ConditionTrue {
				return c.Type
			}
		}
	}
	return ""
}

// validatePodCertStatus: the status changes once, from nothing to a terminal
// condition; an issued chain must be for the requested key, and its dates must agree
// with the status and the limits.
func validatePodCertStatus(pcr, old *certificatesv1.PodCertificateRequest, now time.Time) field.ErrorList {
	cp := field.NewPath("status", "conditions")
	var errs field.ErrorList
	known := 0
	for i, c := range pcr.Status.Conditions {
		switch c.Type {
		case certificatesv1.PodCertificateRequestConditionTypeIssued, certificatesv1.PodCertificateRequestConditionTypeDenied,
			certificatesv1.PodCertificateRequestConditionTypeFailed:
			if known++; known > 1 {
				errs = append(errs, field.Invalid(cp.Index(i).Child("type"), c.Type, `There may be at most one condition with type "Issued", "Denied", or "Failed"`))
			}
			if c.Status != metav1.ConditionTrue {
				errs = append(errs, field.NotSupported(cp.Index(i).Child("status"), c.Status, []metav1.ConditionStatus{metav1.ConditionTrue}))
			}
		default:
			errs = append(errs, field.NotSupported(cp.Index(i).Child("type"), c.Type, []string{"Issued", "Denied", "Failed"}))
		}
	}
	errs = append(errs, metav1validation.ValidateConditions(pcr.Status.Conditions, cp)...)
	if len(errs) > 0 {
		return errs
	}
	sp := field.NewPath("status")
	switch next := podCertTerminal(pcr); {
	case podCertTerminal(old) != "":
		if !apiequality.Semantic.DeepEqual(pcr.Status, old.Status) {
			return field.ErrorList{field.Invalid(sp, field.OmitValueType{}, "immutable after PodCertificateRequest is issued, denied, or failed")}
		}
	case next == certificatesv1.PodCertificateRequestConditionTypeDenied || next == certificatesv1.PodCertificateRequestConditionTypeFailed:
		if !apiequality.Semantic.DeepEqual(pcr.Status, certificatesv1.PodCertificateRequestStatus{Conditions: pcr.Status.Conditions}) {
			return field.ErrorList{field.Invalid(sp, field.OmitValueType{}, "non-condition status fields must be empty when denying or failing the PodCertificateRequest")}
		}
	case next == certificatesv1.PodCertificateRequestConditionTypeIssued:
		return validateIssued(pcr, old, now)
	default:
		if !apiequality.Semantic.DeepEqual(pcr.Status, old.Status) {
			return field.ErrorList{field.Invalid(sp, field.OmitValueType{}, `status is immutable unless transitioning to "Issued", "Denied", or "Failed"`)}
		}
	}
	return nil
}

// validateIssued checks an issued certificate chain against the request.
func validateIssued(pcr, old *certificatesv1.PodCertificateRequest, now time.Time) field.ErrorList {
	st := &pcr.Status
	chainPath := field.NewPath("status", "certificateChain")
	if len(st.CertificateChain) > podCertMaxChainSize {
		return field.ErrorList{field.TooLong(chainPath, "", podCertMaxChainSize)}
	}
	certs, msg := parseChain(st.CertificateChain)
	if msg != "" {
		return field.ErrorList{field.Invalid(chainPath, field.OmitValueType{}, msg)}
	}
	leaf := certs[0]
	var errs field.ErrorList
	for _, name := range leaf.DNSNames {
		if name == "" || strings.Contains(name, "..") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
			errs = append(errs, field.Invalid(chainPath, name, "leaf certificate has a malformed DNS name"))
		}
	}
	for _, addr := range leaf.EmailAddresses {
		if _, err := mail.ParseAddress(addr); err != nil {
			errs = append(errs, field.Invalid(chainPath, addr, "leaf certificate should not contain invalid EmailAddress"))
		}
	}
	if req, err := x509.ParseCertificateRequest(old.Spec.StubPKCS10Request); err != nil || !samePublicKey(req.PublicKey, leaf.PublicKey) {
		errs = append(errs, field.Invalid(chainPath, field.OmitValueType{}, "leaf certificate was not issued to the requested public key"))
	}
	nb, na, br := field.NewPath("status", "notBefore"), field.NewPath("status", "notAfter"), field.NewPath("status", "beginRefreshAt")
	if st.NotBefore == nil {
		errs = append(errs, field.Required(nb, "must be present and consistent with the issued certificate"))
	}
	if st.NotAfter == nil {
		errs = append(errs, field.Required(na, "must be present and consistent with the issued certificate"))
	}
	if st.BeginRefreshAt == nil {
		errs = append(errs, field.Required(br, "must be present and in the range [notbefore+10min, notafter-10min]"))
	}
	if len(errs) > 0 {
		return errs
	}
	lifetime := leaf.NotAfter.Sub(leaf.NotBefore)
	switch {
	case !st.NotBefore.Time.Equal(leaf.NotBefore):
		return field.ErrorList{field.Invalid(nb, st.NotBefore.Time, "must be set to the NotBefore time encoded in the leaf certificate")}
	case st.NotBefore.Time.Sub(now).Abs() > 5*time.Minute:
		return field.ErrorList{field.Invalid(nb, st.NotBefore.Time, "must be set to within 5 minutes of kube-apiserver's current time")}
	case !st.NotAfter.Time.Equal(leaf.NotAfter):
		return field.ErrorList{field.Invalid(na, st.NotAfter.Time, "must be set to the NotAfter time encoded in the leaf certificate")}
	case lifetime < time.Hour:
		return field.ErrorList{field.Invalid(chainPath, lifetime.String(), "leaf certificate lifetime must be >= 1 hour")}
	case old.Spec.MaxExpirationSeconds != nil && lifetime > time.Duration(*old.Spec.MaxExpirationSeconds)*time.Second:
		return field.ErrorList{field.Invalid(chainPath, lifetime.String(), fmt.Sprintf("leaf certificate lifetime must be <= spec.maxExpirationSeconds (%d)", *old.Spec.MaxExpirationSeconds))}
	case st.BeginRefreshAt.Time.Before(st.NotBefore.Time.Add(10 * time.Minute)):
		return field.ErrorList{field.Invalid(br, st.BeginRefreshAt.Time, "must be at least 10 minutes after status.notBefore")}
	case st.BeginRefreshAt.Time.After(st.NotAfter.Time.Add(-10 * time.Minute)):
		return field.ErrorList{field.Invalid(br, st.BeginRefreshAt.Time, "must be at least 10 minutes before status.notAfter")}
	}
	return nil
}

// parseChain reads a PEM chain of certificates, leaf first; msg says what is wrong.
func parseChain(chain string) (certs []*x509.Certificate, msg string) {
	rest := []byte(chain)
	for {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, "issued certificate chain must consist entirely of CERTIFICATE PEM blocks"
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Sprintf("certificate %d does not parse as valid X.509", len(certs))
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, "issued certificate chain must contain at least one certificate"
	}
	return certs, ""
}

func samePublicKey(a, b any) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
