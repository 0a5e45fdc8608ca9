package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/google/uuid"
	"math/big"
	"slices"
	"strings"
	"time"
)

// ServiceAccountIssuer is the issuer and default audience of service account tokens,
// as in Kubernetes.
const ServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// ServiceAccountPrefix starts the user name of every service account.
const ServiceAccountPrefix = "system:serviceaccount:"

// TokenClaims are what a service account token says about its holder.
type TokenClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"aud"`
	Expiry    int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	JTI       string   `json:"jti,omitempty"`
	K8s       struct {
		Namespace      string `json:"namespace"`
		ServiceAccount ref    `json:"serviceaccount"`
		Pod            *ref   `json:"pod,omitempty"`
		Node           *ref   `json:"node,omitempty"`
	} `json:"kubernetes.io"`
}

type ref struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// TokenRequest is what a token is issued for.
type TokenRequest struct {
	Namespace, ServiceAccount, ServiceAccountUID string
	PodName, PodUID, NodeName, NodeUID           string
	Audiences                                    []string
	Expiration                                   time.Duration
}

// ServiceAccountTokens issues and verifies ES256-signed service account JWTs.
type ServiceAccountTokens struct {
	Key *ecdsa.PrivateKey
	// Exists reports whether the service account (and the pod the token is bound to,
	// when podUID is set) still exists with that UID; deleting either revokes the token.
	Exists func(ctx context.Context, namespace, sa, saUID, pod, podUID string) bool
	now    func() time.Time
}

func (s *ServiceAccountTokens) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

func (s *ServiceAccountTokens) keyID() string {
	der, _ := x509.MarshalPKIXPublicKey(&s.Key.PublicKey)
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Issue signs a token for req and returns it with its expiry.
func (s *ServiceAccountTokens) Issue(req TokenRequest) (string, time.Time, error) {
	now := s.clock()
	if req.Expiration <= 0 {
		req.Expiration = time.Hour
	}
	exp := now.Add(req.Expiration)
	c := TokenClaims{Issuer: ServiceAccountIssuer, Subject: ServiceAccountPrefix + req.Namespace + ":" + req.ServiceAccount,
		Audience: req.Audiences, Expiry: exp.Unix(), IssuedAt: now.Unix(), NotBefore: now.Unix(), JTI: uuid.NewString()}
	if len(c.Audience) == 0 {
		c.Audience = []string{ServiceAccountIssuer}
	}
	c.K8s.Namespace = req.Namespace
	c.K8s.ServiceAccount = ref{Name: req.ServiceAccount, UID: req.ServiceAccountUID}
	if req.PodName != "" {
		c.K8s.Pod = &ref{Name: req.PodName, UID: req.PodUID}
	}
	if req.NodeName != "" {
		c.K8s.Node = &ref{Name: req.NodeName, UID: req.NodeUID}
	}
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": s.keyID(), "typ": "JWT"})
	payload, err := json.Marshal(c)
	if err != nil {
		return "", time.Time{}, err
	}
	signing := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(signing))
	r, sig, err := ecdsa.Sign(rand.Reader, s.Key, sum[:])
	if err != nil {
		return "", time.Time{}, err
	}
	raw := make([]byte, 64)
	r.FillBytes(raw[:32])
	sig.FillBytes(raw[32:])
	return signing + "." + b64(raw), exp, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Verify checks a token's signature, time window and audience and returns its claims.
func (s *ServiceAccountTokens) Verify(token string, audiences []string) (*TokenClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 64 {
		return nil, errors.New("malformed signature")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(&s.Key.PublicKey, sum[:], new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])) {
		return nil, errors.New("invalid signature")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var c TokenClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, err
	}
	now := s.clock().Unix()
	if c.Issuer != ServiceAccountIssuer || now > c.Expiry || now < c.NotBefore-60 {
		return nil, fmt.Errorf("token expired or not yet valid")
	}
	if len(audiences) == 0 {
		audiences = []string{ServiceAccountIssuer}
	}
	if !slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(audiences, a) }) {
		return nil, fmt.Errorf("token audiences %v do not include %v", c.Audience, audiences)
	}
	return &c, nil
}

// AuthenticateToken accepts valid tokens of service accounts (and pods) that still exist.
func (s *ServiceAccountTokens) AuthenticateToken(ctx context.Context, token string) (*User, bool) {
	c, err := s.Verify(token, nil)
	if err != nil {
		return nil, false
	}
	sa := c.K8s.ServiceAccount
	var podName, podUID string
	if c.K8s.Pod != nil {
		podName, podUID = c.K8s.Pod.Name, c.K8s.Pod.UID
	}
	if s.Exists != nil && !s.Exists(ctx, c.K8s.Namespace, sa.Name, sa.UID, podName, podUID) {
		return nil, false
	}
	return &User{Name: c.Subject, UID: sa.UID, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + c.K8s.Namespace},
		Extra: c.extra()}, true
}

// extra is what Kubernetes puts in a service account user's extra info: the
// token's ID (which audit logs and the token's holder can match) and its bindings.
func (c *TokenClaims) extra() map[string][]string {
	out := map[string][]string{}
	add := func(key, v string) {
		if v != "" {
			out["authentication.kubernetes.io/"+key] = []string{v}
		}
	}
	if c.JTI != "" {
		add("credential-id", "JTI="+c.JTI)
	}
	if p := c.K8s.Pod; p != nil {
		add("pod-name", p.Name)
		add("pod-uid", p.UID)
	}
	if n := c.K8s.Node; n != nil {
		add("node-name", n.Name)
		add("node-uid", n.UID)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
