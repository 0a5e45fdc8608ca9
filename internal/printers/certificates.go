package printers

import (
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

// addCertificates registers CertificateSigningRequests with kubectl's columns.
func addCertificates(m map[schema.GroupKind]*Printer) {
	spec := certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		ageColumn(),
		col("SignerName", typeString, spec["signerName"]),
		col("Requestor", typeString, spec["username"]),
		col("RequestedDuration", typeString, spec["expirationSeconds"]),
		col("Condition", typeString, "Approved, Denied or Failed, with Issued once signed; Pending before."),
	}, func(c *certificatesv1.CertificateSigningRequest, now time.Time) []interface{} {
		requested := none
		if s := c.Spec.ExpirationSeconds; s != nil {
			requested = duration.HumanDuration(time.Duration(*s) * time.Second)
		}
		return []interface{}{c.Name, age(now, c.CreationTimestamp), c.Spec.SignerName, c.Spec.Username, requested, csrCondition(c)}
	}), "certificates.k8s.io", "CertificateSigningRequest")
}

func csrCondition(c *certificatesv1.CertificateSigningRequest) string {
	var parts []string
	for _, cond := range c.Status.Conditions {
		switch cond.Type {
		case certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed:
			parts = append(parts, string(cond.Type))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "Pending")
	}
	if len(c.Status.Certificate) > 0 {
		parts = append(parts, "Issued")
	}
	return strings.Join(parts, ",")
}
