package apiserver_test

import (
	"context"
	"testing"

	authzv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/testserver"
)

// TestReviewAsTableIsNotAcceptable: a review has no rows or metadata to transform,
// so asking for a Table gets 406, and the plain answer still works.
func TestReviewAsTableIsNotAcceptable(t *testing.T) {
	srv := testserver.Start(t)
	sar := &authzv1.SelfSubjectAccessReview{Spec: authzv1.SelfSubjectAccessReviewSpec{
		NonResourceAttributes: &authzv1.NonResourceAttributes{Path: "/", Verb: "get"}}}
	err := srv.Client.AuthorizationV1().RESTClient().Post().Resource("selfsubjectaccessreviews").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Body(sar).Do(context.Background()).Error()
	if code := apierrors.ReasonForError(err); err == nil || code != "NotAcceptable" {
		t.Errorf("as=Table: %v (reason %q), want 406 NotAcceptable", err, code)
	}
	got, err := srv.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), sar, metav1.CreateOptions{})
	if err != nil || !got.Status.Allowed {
		t.Errorf("plain review: %v, allowed %v", err, got != nil && got.Status.Allowed)
	}
}
