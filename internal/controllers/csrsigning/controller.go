package csrsigning

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	corelisters "k8s.io/client-go/listers/core/v1"

	"skiff/internal/controllers/controller"
)

// claimWindow is how long a name approved by this controller counts as taken on its
// own word, before the informer's cache shows the approval.
const claimWindow = time.Minute

// Controller approves what may be approved without a person, then signs.
type Controller struct {
	*controller.Controller
	c     *controller.Context
	ca    Signer
	csrs  certlisters.CertificateSigningRequestLister
	nodes corelisters.NodeLister
	// services is the service range; no node serves on its addresses.
	services netip.Prefix

	mu sync.Mutex
	// approved are the node names this controller approved a client certificate
	// for, and when: two joins racing for one name must not both pass.
	approved map[string]approval
}

type approval struct {
	csr string
	at  time.Time
}

// New returns the controller; ca signs, serviceCIDR is the service range.
func New(c *controller.Context, ca Signer, serviceCIDR string) *Controller {
	csrs, nodes := c.Informers.Certificates().V1().CertificateSigningRequests(), c.Informers.Core().V1().Nodes()
	services, _ := netip.ParsePrefix(serviceCIDR) // invalid: no range to refuse
	s := &Controller{c: c, ca: ca, csrs: csrs.Lister(), nodes: nodes.Lister(), services: services, approved: map[string]approval{}}
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
	d := s.policy().Decide(csr)
	upd := csr.DeepCopy()
	switch d.Verdict {
	case Pending:
		if d.Message != "" {
			s.c.Recorder("certificatesigningrequest-approver").Event(csr, corev1.EventTypeWarning, d.Reason, d.Message)
		}
		return nil
	case Deny:
		upd.Status.Conditions = append(upd.Status.Conditions, condition(certificatesv1.CertificateDenied, d.Reason, d.Message))
	case Approve:
		upd.Status.Conditions = append(upd.Status.Conditions, condition(certificatesv1.CertificateApproved, d.Reason, d.Message))
	}
	if _, err := s.c.Client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, upd.Name, upd, metav1.UpdateOptions{}); err != nil {
		return err
	}
	if d.Verdict == Approve && csr.Spec.SignerName == certificatesv1.KubeAPIServerClientKubeletSignerName {
		if node, ok := clientNode(csr); ok {
			s.mu.Lock()
			s.approved[node] = approval{csr: csr.Name, at: time.Now()}
			s.mu.Unlock()
		}
	}
	return nil
}

func (s *Controller) policy() Policy {
	return Policy{
		Node: func(name string) (*corev1.Node, bool) {
			n, err := s.nodes.Get(name)
			return n, err == nil
		},
		Claimed:     s.claimed,
		ServiceCIDR: s.services,
	}
}

// claimed names a request other than name that a client certificate for node was
// approved for: one this controller approved a moment ago, or an approved request
// in the cache whose certificate is not issued yet or still valid.
func (s *Controller) claimed(node, name string) (string, bool) {
	s.mu.Lock()
	a, ok := s.approved[node]
	s.mu.Unlock()
	if ok && a.csr != name && time.Since(a.at) < claimWindow {
		return a.csr, true
	}
	all, _ := s.csrs.List(labels.Everything())
	for _, other := range all {
		if other.Name == name || other.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName {
			continue
		}
		if n, ok := clientNode(other); !ok || n != node {
			continue
		}
		approved, denied, failed := conditions(other)
		if approved && !denied && !failed && !expired(other.Status.Certificate) {
			return other.Name, true
		}
	}
	return "", false
}

// clientNode is the node a kubelet client request is for.
func clientNode(csr *certificatesv1.CertificateSigningRequest) (string, bool) {
	req, err := parseRequest(csr.Spec.Request)
	if err != nil || !strings.HasPrefix(req.Subject.CommonName, nodeUserPrefix) {
		return "", false
	}
	return strings.TrimPrefix(req.Subject.CommonName, nodeUserPrefix), true
}

// expired reports an issued certificate past its end; none issued yet is not.
func expired(certPEM []byte) bool {
	if len(certPEM) == 0 {
		return false
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return true
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	return err != nil || time.Now().After(cert.NotAfter)
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
