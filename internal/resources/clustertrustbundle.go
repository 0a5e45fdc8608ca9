package resources

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// A ClusterTrustBundle publishes CA certificates, optionally on behalf of a signer;
// pods read them through clusterTrustBundle projected volumes.
type clusterTrustBundleStrategy struct{ generic }

// ctbMaxSize is the largest trust bundle accepted, as in Kubernetes.
const ctbMaxSize = 1 << 20

func (clusterTrustBundleStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	ctb, ok := obj.(*certificatesv1.ClusterTrustBundle)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, func(name string, prefix bool) []string {
		// A signer's bundles carry its name, so that RBAC on names can follow signers.
		if s := ctb.Spec.SignerName; s != "" {
			if want := strings.ReplaceAll(s, "/", ":") + ":"; !strings.HasPrefix(name, want) {
				return []string{fmt.Sprintf("ClusterTrustBundle for signerName %s must be named with prefix %s", s, want)}
			}
			return apivalidation.NameIsDNSSubdomain(strings.ReplaceAll(name, ":", "."), prefix)
		}
		if strings.Contains(name, ":") {
			return []string{"ClusterTrustBundle without signer name must not have \":\" in its name"}
		}
		return apivalidation.NameIsDNSSubdomain(name, prefix)
	})
	sp := field.NewPath("spec")
	if s := ctb.Spec.SignerName; s != "" {
		if i := strings.Index(s, "/"); i <= 0 || i == len(s)-1 || strings.Count(s, "/") != 1 {
			errs = append(errs, field.Invalid(sp.Child("signerName"), s, "must be a fully qualified domain and path of the form 'example.com/signer-name'"))
		}
	}
	errs = append(errs, validateTrustBundle(ctb.Spec.TrustBundle, sp.Child("trustBundle"))...)
	if o, ok := old.(*certificatesv1.ClusterTrustBundle); ok {
		errs = append(errs, apivalidation.ValidateImmutableField(ctb.Spec.SignerName, o.Spec.SignerName, sp.Child("signerName"))...)
	}
	return errs
}

// validateTrustBundle: one or more PEM CERTIFICATE blocks without headers, each a
// certificate that parses, and nothing else.
func validateTrustBundle(bundle string, p *field.Path) field.ErrorList {
	if len(bundle) > ctbMaxSize {
		return field.ErrorList{field.TooLong(p, "", ctbMaxSize)}
	}
	rest, n := []byte(bundle), 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n++
		switch {
		case block.Type != "CERTIFICATE":
			return field.ErrorList{field.Invalid(p, "<value omitted>", fmt.Sprintf("entry %d has bad block type: %s", n, block.Type))}
		case len(block.Headers) != 0:
			return field.ErrorList{field.Invalid(p, "<value omitted>", fmt.Sprintf("entry %d has PEM block headers", n))}
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return field.ErrorList{field.Invalid(p, "<value omitted>", fmt.Sprintf("entry %d does not parse as X.509: %v", n, err))}
		}
	}
	if n == 0 {
		return field.ErrorList{field.Invalid(p, "<value omitted>", "at least one trust anchor must be provided")}
	}
	if strings.TrimSpace(string(rest)) != "" {
		return field.ErrorList{field.Invalid(p, "<value omitted>", "trailing data after the last PEM block")}
	}
	return nil
}

// Fields adds spec.signerName, which the kubelet lists bundles by.
func (clusterTrustBundleStrategy) Fields(obj runtime.Object) fields.Set {
	set := metaFields(obj)
	set["spec.signerName"] = obj.(*certificatesv1.ClusterTrustBundle).Spec.SignerName
	return set
}
