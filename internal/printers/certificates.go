package printers

import (
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

// addCertificates registers CertificateSigningRequests and PodCertificateRequests
// with kubectl's columns.
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
	pcr := certificatesv1.PodCertificateRequestSpec{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("PodName", typeString, pcr["podName"]),
		col("ServiceAccountName", typeString, pcr["serviceAccountName"]),
		col("NodeName", typeString, pcr["nodeName"]),
		col("SignerName", typeString, pcr["signerName"]),
		col("State", typeString, "Is the request Pending, Issued, Denied, or Failed?"),
		ageColumn(),
	}, func(r *certificatesv1.PodCertificateRequest, now time.Time) []interface{} {
		return []interface{}{r.Name, r.Spec.PodName, r.Spec.ServiceAccountName, string(r.Spec.NodeName), r.Spec.SignerName,
			pcrState(r), age(now, r.CreationTimestamp)}
	}), "certificates.k8s.io", "PodCertificateRequest")
}

// pcrState is the request's terminal condition, or Pending.
func pcrState(r *certificatesv1.PodCertificateRequest) string {
	for _, c := range r.Status.Conditions {
		switch c.Type {
		case certificatesv1.PodCertificateRequestConditionTypeIssued, certificatesv1.PodCertificateRequestConditionTypeDenied,
			certificatesv1.PodCertificateRequestConditionTypeFailed:
			if c.Status == metav1.ConditionTrue {
				return c.Type
			}
		}
	}
	return "Pending"
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
