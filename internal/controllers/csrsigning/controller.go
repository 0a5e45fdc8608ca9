package csrsigning

import (
	"context"
	"errors"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	corelisters "k8s.io/client-go/listers/core/v1"

	"skiff/internal/controllers/controller"
)

// Controller approves what may be approved without a person, then signs.
type Controller struct {
	*controller.Controller
	c     *controller.Context
	ca    Signer
	csrs  certlisters.CertificateSigningRequestLister
	nodes corelisters.NodeLister
}

// New returns the controller; ca signs.
func New(c *controller.Context, ca Signer) *Controller {
	csrs, nodes := c.Informers.Certificates().V1().CertificateSigningRequests(), c.Informers.Core().V1().Nodes()
	s := &Controller{c: c, ca: ca, csrs: csrs.Lister(), nodes: nodes.Lister()}
	s.Controller = controller.New("csrsigning", s.sync, 1)
	_, _ = csrs.Informer().AddEventHandler(s.Handler())
	s.HasSynced = append(s.HasSynced, csrs.Informer().HasSynced, nodes.Informer().HasSynced)
	return s
}

func (s *Controller) sync(ctx context.Context, name string) error {
	csr, err := s.csrs.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	approved, denied, failed := conditions(csr)
	switch {
	case denied || failed || len(csr.Status.Certificate) > 0:
		return nil
	case !approved:
		return s.autoApprove(ctx, csr)
	}
	cert, err := Issue(s.ca, csr)
	if errors.Is(err, errNotOurs) {
		return nil
	}
	upd := csr.DeepCopy()
	if err != nil {
		upd.Status.Conditions = append(upd.Status.Conditions, condition(certificatesv1.CertificateFailed, "SignerValidationFailure", err.Error()))
	} else {
		upd.Status.Certificate = cert
	}
	_, err = s.c.Client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	return err
}

func (s *Controller) autoApprove(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) error {
	ok, why := AutoApproval(csr, func(node string) bool {
		_, err := s.nodes.Get(node)
		return err == nil
	})
	if !ok {
		return nil
	}
	upd := csr.DeepCopy()
	upd.Status.Conditions = append(upd.Status.Conditions, condition(certificatesv1.CertificateApproved, "AutoApproved", why))
	_, err := s.c.Client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, upd.Name, upd, metav1.UpdateOptions{})
	return err
}

func conditions(csr *certificatesv1.CertificateSigningRequest) (approved, denied, failed bool) {
	for _, c := range csr.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		case certificatesv1.CertificateFailed:
			failed = true
		}
	}
	return approved, denied, failed
}

func condition(t certificatesv1.RequestConditionType, reason, msg string) certificatesv1.CertificateSigningRequestCondition {
	now := metav1.Now()
	return certificatesv1.CertificateSigningRequestCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: msg,
		LastUpdateTime: now, LastTransitionTime: now}
}
