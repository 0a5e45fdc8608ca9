package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/auth"
)

// serveReview answers the create-only review resources: who am I, may I, is this
// token valid. Nothing is stored.
func (a *API) serveReview(w http.ResponseWriter, r *http.Request, q request, ep *endpoint) {
	c, obj, ok := beginCreate(w, r, q, ep, ep.GVK())
	if !ok {
		return
	}
	if c.out.as != "" {
		// A review is no stored object: it has no rows and no metadata to transform.
		writeError(w, apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "create", ep.GroupVersionResource.GroupResource(), "",
			fmt.Sprintf("%s cannot be returned as %s", ep.Kind, c.out.as), 0, false))
		return
	}
	if err := a.review(r.Context(), q, obj); err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, c.out, http.StatusCreated, ep.GroupVersion(), obj)
}

func (a *API) review(ctx context.Context, q request, obj runtime.Object) error {
	me := auth.UserFrom(ctx)
	switch o := obj.(type) {
	case *authzv1.SelfSubjectAccessReview:
		o.Status = a.accessReview(ctx, me, o.Spec.ResourceAttributes, o.Spec.NonResourceAttributes)
	case *authzv1.SubjectAccessReview:
		o.Status = a.accessReview(ctx, userOf(o.Spec), o.Spec.ResourceAttributes, o.Spec.NonResourceAttributes)
	case *authzv1.LocalSubjectAccessReview:
		if o.Spec.ResourceAttributes != nil {
			o.Spec.ResourceAttributes.Namespace = q.Namespace
		}
		o.Status = a.accessReview(ctx, userOf(o.Spec), o.Spec.ResourceAttributes, nil)
	case *authzv1.SelfSubjectRulesReview:
		o.Status = a.rulesReview(me, o.Spec.Namespace)
	case *authnv1.TokenReview:
		o.Status = authnv1.TokenReviewStatus{}
		for _, t := range a.authn.Tokens {
			if u, ok := t.AuthenticateToken(ctx, o.Spec.Token); ok {
				o.Status.Authenticated = true
				o.Status.User = authnv1.UserInfo{Username: u.Name, UID: u.UID, Groups: append(u.Groups, auth.Authenticated), Extra: extraValues(u.Extra)}
				break
			}
		}
	case *authnv1.SelfSubjectReview:
		o.Status.UserInfo = authnv1.UserInfo{Username: me.Name, UID: me.UID, Groups: me.Groups, Extra: extraValues(me.Extra)}
	default:
		return apierrors.NewBadRequest(fmt.Sprintf("unexpected %T", obj))
	}
	m := obj.(metav1.Object)
	m.SetCreationTimestamp(metav1.NewTime(a.now()))
	return nil
}

func userOf(spec authzv1.SubjectAccessReviewSpec) *auth.User {
	return &auth.User{Name: spec.User, UID: spec.UID, Groups: spec.Groups}
}

func (a *API) accessReview(ctx context.Context, u *auth.User, ra *authzv1.ResourceAttributes, nra *authzv1.NonResourceAttributes) authzv1.SubjectAccessReviewStatus {
	attrs := auth.Attributes{User: u}
	switch {
	case ra != nil:
		attrs.Verb, attrs.Namespace, attrs.APIGroup = ra.Verb, ra.Namespace, ra.Group
		attrs.Resource, attrs.Subresource, attrs.Name = ra.Resource, ra.Subresource, ra.Name
	case nra != nil:
		attrs.Verb, attrs.Path = nra.Verb, nra.Path
	default:
		return authzv1.SubjectAccessReviewStatus{EvaluationError: "one of resourceAttributes or nonResourceAttributes is required"}
	}
	allowed, why := a.authz.Authorize(ctx, attrs)
	st := authzv1.SubjectAccessReviewStatus{Allowed: allowed, Reason: why}
	if allowed && why == "" {
		st.Reason = "allowed"
	}
	return st
}

func (a *API) rulesReview(u *auth.User, namespace string) authzv1.SubjectRulesReviewStatus {
	var rules []rbacv1.PolicyRule
	if u.InGroup(auth.Masters) {
		rules = []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}, {Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}}
	} else {
		rules = a.rbac.RulesFor(u, namespace)
	}
	var st authzv1.SubjectRulesReviewStatus
	for _, r := range rules {
		if len(r.NonResourceURLs) > 0 {
			st.NonResourceRules = append(st.NonResourceRules, authzv1.NonResourceRule{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
			continue
		}
		st.ResourceRules = append(st.ResourceRules, authzv1.ResourceRule{Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources, ResourceNames: r.ResourceNames})
	}
	return st
}

// serveToken issues a service account token (kubectl create token, and the kubelet's
// projected token volumes).
func (a *API) serveToken(w http.ResponseWriter, r *http.Request, q request, ep *endpoint) {
	if a.saTokens == nil {
		writeError(w, apierrors.NewMethodNotSupported(ep.GroupResource(), r.Method))
		return
	}
	c, obj, ok := beginCreate(w, r, q, ep, authnv1.SchemeGroupVersion.WithKind("TokenRequest"))
	if !ok {
		return
	}
	tr := obj.(*authnv1.TokenRequest)
	saObj, err := ep.store.Get(r.Context(), q.Namespace, q.Name)
	if err != nil {
		writeError(w, err)
		return
	}
	sa := saObj.(*corev1.ServiceAccount)
	if err := a.checkNodeToken(r.Context(), ep, sa, tr.Spec.BoundObjectRef); err != nil {
		writeError(w, err)
		return
	}
	exp := time.Hour
	if tr.Spec.ExpirationSeconds != nil {
		if *tr.Spec.ExpirationSeconds < 600 {
			writeError(w, invalid(authnv1.SchemeGroupVersion.WithKind("TokenRequest").GroupKind(), q.Name, nil))
			return
		}
		exp = time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
	}
	req := auth.TokenRequest{Namespace: sa.Namespace, ServiceAccount: sa.Name, ServiceAccountUID: string(sa.UID),
		Audiences: tr.Spec.Audiences, Expiration: exp}
	if err := a.bindToken(r.Context(), &req, tr.Spec.BoundObjectRef); err != nil {
		writeError(w, err)
		return
	}
	token, expires, err := a.saTokens.Issue(req)
	if err != nil {
		writeError(w, err)
		return
	}
	tr.Status = authnv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(expires)}
	tr.Name, tr.Namespace, tr.CreationTimestamp = sa.Name, sa.Namespace, metav1.NewTime(a.now())
	writeObject(w, c.out, http.StatusCreated, authnv1.SchemeGroupVersion, tr)
}

// bindToken binds a token to the pod (or node) it names, which must exist with that
// UID; a pod's token also names the pod's node, as Kubernetes' do, so that whoever
// reviews the token learns where it was used from.
func (a *API) bindToken(ctx context.Context, req *auth.TokenRequest, b *authnv1.BoundObjectReference) error {
	if b == nil || (b.Kind != "Pod" && b.Kind != "Node") {
		return nil
	}
	node := b.Name
	if b.Kind == "Pod" {
		obj, err := a.endpoints[corev1.SchemeGroupVersion.WithResource("pods")].store.Get(ctx, req.Namespace, b.Name)
		if err != nil {
			return err
		}
		pod := obj.(*corev1.Pod)
		if b.UID != "" && pod.UID != b.UID {
			return apierrors.NewConflict(corev1.Resource("pods"), b.Name, fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record (%s); the object might have been deleted and then recreated", b.UID, pod.UID))
		}
		req.PodName, req.PodUID, node = pod.Name, string(pod.UID), pod.Spec.NodeName
	}
	if node == "" {
		return nil
	}
	obj, err := a.endpoints[corev1.SchemeGroupVersion.WithResource("nodes")].store.Get(ctx, "", node)
	if err != nil {
		if b.Kind == "Pod" && apierrors.IsNotFound(err) {
			return nil // the pod's node is gone; the token is still the pod's
		}
		return err
	}
	n := obj.(*corev1.Node)
	if b.Kind == "Node" && b.UID != "" && n.UID != b.UID {
		return apierrors.NewConflict(corev1.Resource("nodes"), node, fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record (%s)", b.UID, n.UID))
	}
	req.NodeName, req.NodeUID = n.Name, string(n.UID)
	return nil
}

func extraValues(extra map[string][]string) map[string]authnv1.ExtraValue {
	if len(extra) == 0 {
		return nil
	}
	out := make(map[string]authnv1.ExtraValue, len(extra))
	for k, v := range extra {
		out[k] = v
	}
	return out
}
