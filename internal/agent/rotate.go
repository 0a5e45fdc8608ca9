package agent

import (
	"context"
	"crypto/x509"
	"log/slog"
	"path/filepath"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/kubernetes"
)

// renewAt is when a certificate is renewed: after four fifths of its life, as
// kubelets do (they pick 70–90%).
func renewAt(c *x509.Certificate) time.Time {
	life := c.NotAfter.Sub(c.NotBefore)
	return c.NotBefore.Add(life * 4 / 5)
}

// rotateClient renews the node's client certificate through a certificate signing
// request made with the current one (the approver approves a node renewing its own)
// at renewAt, until ctx ends. A failed renewal is retried every minute while the
// current certificate lasts.
func rotateClient(ctx context.Context, server, dir, node string, caPEM []byte) {
	retry := time.Duration(0)
	for {
		wait := retry
		if leaf, err := loadClient(dir, node); err == nil && retry == 0 {
			wait = time.Until(renewAt(leaf))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if err := renewClient(ctx, server, dir, node, caPEM); err != nil {
			slog.Warn("client certificate renewal failed; retrying", "node", node, "err", err)
			retry = time.Minute
			continue
		}
		retry = 0
		slog.Info("client certificate renewed", "node", node)
	}
}

// renewClient replaces the client certificate with a new one for a new key.
func renewClient(ctx context.Context, server, dir, node string, caPEM []byte) error {
	cs, err := kubernetes.NewForConfig(restConfig(server, dir, caPEM))
	if err != nil {
		return err
	}
	pair, err := requestCertificate(ctx, cs, clientTemplate(node), certificatesv1.KubeAPIServerClientKubeletSignerName,
		[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth})
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, clientFile), pair)
}
