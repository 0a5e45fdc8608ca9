package resources

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podCertKeyTypes are the key types the kubelet generates for podCertificate sources.
var podCertKeyTypes = []string{"RSA3072", "RSA4096", "ECDSAP256", "ECDSAP384", "ECDSAP521", "ED25519"}

// validateProjectedSources checks that each source of a projected volume is of one
// type, and the podCertificate sources in full: a rejected pod is better than one
// whose volume can never be set up.
func validateProjectedSources(srcs []corev1.VolumeProjection, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range srcs {
		src, sp := &srcs[i], p.Child("sources").Index(i)
		n := 0
		for _, set := range []bool{src.Secret != nil, src.ConfigMap != nil, src.DownwardAPI != nil,
			src.ServiceAccountToken != nil, src.ClusterTrustBundle != nil, src.PodCertificate != nil} {
			if set {
				n++
			}
		}
		if n > 1 {
			errs = append(errs, field.Forbidden(sp, "may not specify more than 1 volume type per source"))
		}
		if pc := src.PodCertificate; pc != nil {
			errs = append(errs, validatePodCertProjection(pc, sp.Child("podCertificate"))...)
		}
	}
	return errs
}

func validatePodCertProjection(pc *corev1.PodCertificateProjection, p *field.Path) field.ErrorList {
	errs := validateSignerName(p.Child("signerName"), pc.SignerName)
	if pc.UserAnnotations != nil {
		errs = append(errs, validateUserAnnotations(pc.UserAnnotations, p.Child("userAnnotations"))...)
	}
	if pc.User != nil {
		for _, msg := range validation.IsValidUserID(*pc.User) {
			errs = append(errs, field.Invalid(p.Child("user"), *pc.User, msg))
		}
	}
	if !slices.Contains(podCertKeyTypes, pc.KeyType) {
		errs = append(errs, field.NotSupported(p.Child("keyType"), pc.KeyType, podCertKeyTypes))
	}
	if s := pc.MaxExpirationSeconds; s != nil {
		mp := p.Child("maxExpirationSeconds")
		if *s < PodCertMinExpirationSeconds {
			errs = append(errs, field.Invalid(mp, *s, fmt.Sprintf("if provided, maxExpirationSeconds must be >= %d", PodCertMinExpirationSeconds)))
		}
		if max := podCertMaxExpiration(pc.SignerName); *s > max {
			errs = append(errs, field.Invalid(mp, *s, fmt.Sprintf("if provided, maxExpirationSeconds must be <= %d", max)))
		}
	}
	paths := 0
	for name, v := range map[string]string{"credentialBundlePath": pc.CredentialBundlePath, "keyPath": pc.KeyPath, "certificateChainPath": pc.CertificateChainPath} {
		if v != "" {
			paths++
			errs = append(errs, validatePodRelativePath(v, p.Child(name))...)
		}
	}
	if paths == 0 {
		errs = append(errs, field.Required(p, "specify at least one of credentialBundlePath, keyPath, and certificateChainPath"))
	}
	return errs
}
