package volume

import (
	"bytes"
	"context"
	"encoding/pem"
	"slices"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// trustBundleFiles projects ClusterTrustBundles: one by name, or every bundle of a
// signer that the label selector matches (a nil selector matches none, an empty one
// all), their certificates deduplicated into one PEM file. Read on every sync, so
// a changed bundle reaches the pod with the next one.
func (m *Manager) trustBundleFiles(ctx context.Context, src *corev1.ClusterTrustBundleProjection, def *int32) (map[string]File, error) {
	optional := src.Optional != nil && *src.Optional
	var bundles []certificatesv1.ClusterTrustBundle
	switch {
	case src.Name != nil:
		ctb, err := m.cfg.Client.CertificatesV1().ClusterTrustBundles().Get(ctx, *src.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && optional {
			break
		}
		if err != nil {
			return nil, notFoundOr(err, *src.Name)
		}
		bundles = append(bundles, *ctb)
	case src.SignerName != nil && src.LabelSelector != nil:
		sel, err := metav1.LabelSelectorAsSelector(src.LabelSelector)
		if err != nil {
			return nil, err
		}
		list, err := m.cfg.Client.CertificatesV1().ClusterTrustBundles().List(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("spec.signerName", *src.SignerName).String(),
			LabelSelector: sel.String()})
		if err != nil {
			return nil, err
		}
		for _, b := range list.Items {
			if b.Spec.SignerName == *src.SignerName { // the field selector, checked again
				bundles = append(bundles, b)
			}
		}
	}
	if len(bundles) == 0 && !optional {
		name := "of any name"
		switch {
		case src.Name != nil:
			name = *src.Name
		case src.SignerName != nil:
			name = "of signer " + *src.SignerName + " matching the label selector"
		}
		return nil, &NotFoundError{Kind: "ClusterTrustBundle", Name: name}
	}
	return map[string]File{src.Path: {Data: joinCertificates(bundles), Mode: fileMode(nil, def)}}, nil
}

func notFoundOr(err error, name string) error {
	if apierrors.IsNotFound(err) {
		return &NotFoundError{Kind: "ClusterTrustBundle", Name: name}
	}
	return err
}

// joinCertificates is the bundles' certificates, each once, in a stable order.
func joinCertificates(bundles []certificatesv1.ClusterTrustBundle) []byte {
	var blocks [][]byte
	for _, b := range bundles {
		rest := []byte(b.Spec.TrustBundle)
		for {
			var block *pem.Block
			if block, rest = pem.Decode(rest); block == nil {
				break
			}
			blocks = append(blocks, pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: block.Bytes}))
		}
	}
	slices.SortFunc(blocks, bytes.Compare)
	return bytes.Join(slices.CompactFunc(blocks, bytes.Equal), nil)
}
