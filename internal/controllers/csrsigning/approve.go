package csrsigning

import (
	"crypto/x509"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
)

// Verdict is what the approver does with a pending request.
type Verdict int

const (
	// Pending leaves the request for an administrator (`kubectl certificate approve`).
	Pending Verdict = iota
	// Approve approves it.
	Approve
	// Deny denies it: it asks for something no node may have.
	Deny
)

// Decision is a verdict with the reason and message that go on the condition (or,
// for a request left pending on purpose, on an event).
type Decision struct {
	Verdict         Verdict
	Reason, Message string
}

// Policy is what the approver knows of the cluster.
type Policy struct {
	// Node returns the Node of that name.
	Node func(name string) (*corev1.Node, bool)
	// Claimed names a request other than csr that a kubelet client certificate for
	// node was approved for, whose certificate has not expired.
	Claimed func(node, csr string) (string, bool)
	// ServiceCIDR is the service range (no node serves on a service address).
	ServiceCIDR netip.Prefix
}

// Decide says what happens to a pending request without a person:
//   - a kubelet client certificate is approved for the node itself (renewal, asked
//     with its current certificate) and for a join token asking for a node name that
//     no Node and no other approved request holds: of two joins racing for one name,
//     only the first gets a certificate;
//   - a kubelet serving certificate is approved when the node asks for its own and it
//     names only the node: its name and addresses (the Node's, once it registered;
//     before, the node's word, which its Node status would carry anyway), never a
//     service, loopback or link-local address or another DNS name
//     (kubernetes.default.svc, wildcards); otherwise it is denied. Several nodes may
//     share an address (nodes on one machine).
func (p Policy) Decide(csr *certificatesv1.CertificateSigningRequest) Decision {
	switch csr.Spec.SignerName {
	case certificatesv1.KubeAPIServerClientKubeletSignerName:
		return p.decideClient(csr)
	case certificatesv1.KubeletServingSignerName:
		return p.decideServing(csr)
	}
	return Decision{}
}

func (p Policy) decideClient(csr *certificatesv1.CertificateSigningRequest) Decision {
	req, err := parseRequest(csr.Spec.Request)
	if err != nil || kubeletRequest(req, csr.Spec.Usages, certificatesv1.UsageClientAuth) != nil || hasSANs(req) {
		return Decision{} // the signer says why when someone approves it
	}
	node := strings.TrimPrefix(req.Subject.CommonName, nodeUserPrefix)
	switch {
	case csr.Spec.Username == req.Subject.CommonName:
		return Decision{Verdict: Approve, Reason: "AutoApproved", Message: "Auto approving self kubelet client certificate renewal."}
	case !slices.Contains(csr.Spec.Groups, bootstrappers):
		return Decision{}
	}
	if _, ok := p.Node(node); ok {
		return Decision{Reason: "NodeNameTaken", Message: fmt.Sprintf("not auto-approved: node %q exists, and a join token cannot take over "+
			"an existing node's name (delete the Node and its approved requests to let a machine join under that name again, "+
			"or approve this request by hand)", node)}
	}
	if other, ok := p.Claimed(node, csr.Name); ok {
		return Decision{Reason: "NodeNameTaken", Message: fmt.Sprintf("not auto-approved: a client certificate for node %q "+
			"was already approved for request %s (two machines joining under one name); delete that request to free the name, "+
			"or approve this one by hand", node, other)}
	}
	return Decision{Verdict: Approve, Reason: "AutoApproved",
		Message: "Auto approving kubelet client certificate for a bootstrap token: no node " + node + " exists."}
}

func (p Policy) decideServing(csr *certificatesv1.CertificateSigningRequest) Decision {
	req, err := parseRequest(csr.Spec.Request)
	if err != nil {
		return Decision{Verdict: Deny, Reason: "InvalidRequest", Message: err.Error()}
	}
	if csr.Spec.Username != req.Subject.CommonName || !slices.Contains(csr.Spec.Groups, nodesGroup) {
		return Decision{Reason: "NotRequestedByTheNode", Message: "not auto-approved: a kubelet serving certificate is " +
			"approved without a person only when the node asks for its own, with its client certificate"}
	}
	if err := kubeletRequest(req, csr.Spec.Usages, certificatesv1.UsageServerAuth); err != nil {
		return Decision{Verdict: Deny, Reason: "InvalidRequest", Message: err.Error()}
	}
	node := strings.TrimPrefix(req.Subject.CommonName, nodeUserPrefix)
	if why := p.foreignName(node, req); why != "" {
		return Decision{Verdict: Deny, Reason: "ForbiddenSubjectAltName", Message: "a node's serving certificate names only the node: " + why}
	}
	return Decision{Verdict: Approve, Reason: "AutoApproved", Message: "Auto approving kubelet serving certificate: it names only node " + node + "."}
}

// foreignName says which subject alternative name is not the node's, or "".
func (p Policy) foreignName(node string, req *x509.CertificateRequest) string {
	if len(req.EmailAddresses)+len(req.URIs) > 0 {
		return "email and URI names are not allowed"
	}
	if len(req.DNSNames)+len(req.IPAddresses) == 0 {
		return "it names nothing"
	}
	for _, dns := range req.DNSNames {
		if !strings.EqualFold(dns, node) {
			return fmt.Sprintf("DNS name %q is not the node name %q", dns, node)
		}
	}
	self, registered := p.Node(node)
	for _, raw := range req.IPAddresses {
		ip, _ := netip.AddrFromSlice(raw)
		ip = ip.Unmap()
		switch {
		case ip.IsLoopback() || ip.IsUnspecified() || ip.IsMulticast() || ip.IsLinkLocalUnicast():
			return fmt.Sprintf("IP address %s is not an address of the node", ip)
		case p.ServiceCIDR.IsValid() && p.ServiceCIDR.Contains(ip):
			return fmt.Sprintf("IP address %s is in the service range %s", ip, p.ServiceCIDR)
		case registered && !hasAddress(self, ip):
			return fmt.Sprintf("IP address %s is not among node %s's addresses", ip, node)
		}
	}
	return ""
}

func hasAddress(n *corev1.Node, ip netip.Addr) bool {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP && a.Type != corev1.NodeExternalIP {
			continue
		}
		if got, err := netip.ParseAddr(a.Address); err == nil && got.Unmap() == ip {
			return true
		}
	}
	return false
}

func hasSANs(req *x509.CertificateRequest) bool {
	return len(req.DNSNames)+len(req.IPAddresses)+len(req.EmailAddresses)+len(req.URIs) > 0
}
