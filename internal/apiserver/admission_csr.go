package apiserver

import (
	"context"
	"fmt"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	admissionapi "k8s.io/apiserver/pkg/admission"

	"skiff/internal/auth"
)

// csrAdmission is the certificates API's part of admission, as Kubernetes has it: a
// new CertificateSigningRequest records who asked (spec.username, uid, groups: the
// approver and signer decide on them, so the client may not choose them); approving
// needs the approve verb on the signer, issuing the sign verb (resource "signers" in
// certificates.k8s.io, named by signerName or its "domain/*"); the sign verb also
// guards the status of PodCertificateRequests.
type csrAdmission struct{ api *API }

var (
	_ admissionapi.MutationInterface   = csrAdmission{}
	_ admissionapi.ValidationInterface = csrAdmission{}
)

func (csrAdmission) Handles(op admissionapi.Operation) bool {
	return op == admissionapi.Create || op == admissionapi.Update
}

func isCSR(at admissionapi.Attributes) (*certificatesv1.CertificateSigningRequest, bool) {
	if at.GetResource().GroupResource() != certificatesv1.Resource("certificatesigningrequests") {
		return nil, false
	}
	csr, ok := at.GetObject().(*certificatesv1.CertificateSigningRequest)
	return csr, ok
}

// Admit stamps the requester on create.
func (csrAdmission) Admit(_ context.Context, at admissionapi.Attributes, _ admissionapi.ObjectInterfaces) error {
	csr, ok := isCSR(at)
	if !ok || at.GetOperation() != admissionapi.Create {
		return nil
	}
	u := at.GetUserInfo()
	csr.Spec.Username, csr.Spec.UID, csr.Spec.Groups, csr.Spec.Extra = u.GetName(), u.GetUID(), u.GetGroups(), nil
	return nil
}

// Validate checks approvers and signers.
func (c csrAdmission) Validate(ctx context.Context, at admissionapi.Attributes, _ admissionapi.ObjectInterfaces) error {
	if pcr, ok := at.GetObject().(*certificatesv1.PodCertificateRequest); ok {
		return c.validatePodCertificate(ctx, at, pcr)
	}
	csr, ok := isCSR(at)
	if !ok || at.GetOperation() != admissionapi.Update {
		return nil
	}
	verb := map[string]string{"approval": "approve", "status": "sign"}[at.GetSubresource()]
	if verb == "" || c.maySigner(ctx, verb, csr.Spec.SignerName) {
		return nil
	}
	return admissionapi.NewForbidden(at, fmt.Errorf("user not permitted to %s requests with signerName %q", verb, csr.Spec.SignerName))
}

func (c csrAdmission) maySigner(ctx context.Context, verb, signer string) bool {
	u := auth.UserFrom(ctx)
	if u == nil {
		return true // in-process components
	}
	names := []string{signer}
	if domain, _, ok := strings.Cut(signer, "/"); ok {
		names = append(names, domain+"/*")
	}
	for _, name := range names {
		if ok, _ := c.api.authz.Authorize(ctx, auth.Attributes{User: u, Verb: verb, APIGroup: certificatesv1.GroupName,
			Resource: "signers", Name: name}); ok {
			return true
		}
	}
	return false
}

// validatePodCertificate: only the signer (the sign verb on its name) may write a
// PodCertificateRequest's status.
func (c csrAdmission) validatePodCertificate(ctx context.Context, at admissionapi.Attributes, pcr *certificatesv1.PodCertificateRequest) error {
	old, _ := at.GetOldObject().(*certificatesv1.PodCertificateRequest)
	if at.GetSubresource() != "status" || old == nil || apiequality.Semantic.DeepEqual(old.Status, pcr.Status) ||
		c.maySigner(ctx, "sign", old.Spec.SignerName) {
		return nil
	}
	return admissionapi.NewForbidden(at, fmt.Errorf("user not permitted to \"sign\" for signer %q", old.Spec.SignerName))
}
