package volume

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// token is a service account token and when to ask for a new one.
type token struct {
	value     string
	refreshAt time.Time
	expires   time.Time
}

// refreshAt is 80% into the token's life, as the kubelet's token manager does, so
// a pod never holds a token about to expire.
func refreshAt(issued, expires time.Time) time.Time {
	return issued.Add(expires.Sub(issued) * 8 / 10)
}

// token returns a pod-bound token for a serviceAccountToken projection, asking the
// TokenRequest API for a new one when the cached one is due.
func (m *Manager) token(ctx context.Context, pod *corev1.Pod, volume string, src *corev1.ServiceAccountTokenProjection) (string, error) {
	key := string(pod.UID) + "/" + volume + "/" + src.Path
	t0 := time.Now()
	m.mu.Lock()
	cached, ok := m.tokens[key]
	m.mu.Unlock()
	if ok && t0.Before(cached.refreshAt) {
		return cached.value, nil
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	exp := int64(3600)
	if src.ExpirationSeconds != nil {
		exp = *src.ExpirationSeconds
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &exp,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	res, err := m.cfg.Client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		// A token that is still valid is better than none while the API is away.
		if ok && t0.Before(cached.expires) {
			return cached.value, nil
		}
		return "", fmt.Errorf("requesting a token for serviceaccount %q: %w", sa, err)
	}
	t := token{value: res.Status.Token, expires: res.Status.ExpirationTimestamp.Time}
	t.refreshAt = refreshAt(t0, t.expires)
	m.mu.Lock()
	m.tokens[key] = t
	m.mu.Unlock()
	return t.value, nil
}
