package apiserver_test

import (
	"context"
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"

	"skiff/internal/testserver"
)

// labelPlugin labels every ConfigMap it admits and refuses those labelled deny=yes,
// on create, update and delete alike.
type labelPlugin struct {
	*admission.Handler
	seen []admission.Operation
}

func (p *labelPlugin) Admit(_ context.Context, at admission.Attributes, _ admission.ObjectInterfaces) error {
	if at.GetResource().Resource != "configmaps" {
		return nil
	}
	m, err := meta.Accessor(at.GetObject())
	if err != nil {
		return err
	}
	labels := m.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels["admitted-by"] = at.GetUserInfo().GetName()
	m.SetLabels(labels)
	return nil
}

func (p *labelPlugin) Validate(_ context.Context, at admission.Attributes, _ admission.ObjectInterfaces) error {
	if at.GetResource().Resource != "configmaps" {
		return nil
	}
	p.seen = append(p.seen, at.GetOperation())
	obj := at.GetObject()
	if obj == nil {
		obj = at.GetOldObject()
	}
	m, _ := meta.Accessor(obj)
	if m.GetLabels()["deny"] == "yes" {
		return admission.NewForbidden(at, errors.New("labelled deny"))
	}
	return nil
}

func TestAdmissionChainMutatesThenValidates(t *testing.T) {
	srv := testserver.Start(t)
	p := &labelPlugin{Handler: admission.NewHandler(admission.Create, admission.Update, admission.Delete)}
	srv.API.AddAdmission(p)
	ctx := context.Background()
	cms := srv.Client.CoreV1().ConfigMaps("default")

	got, err := cms.Create(ctx, cm("ok"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels["admitted-by"] == "" {
		t.Errorf("mutating plugin's label (with the user's name) missing: %v", got.Labels)
	}
	bad := cm("bad")
	bad.Labels = map[string]string{"deny": "yes"}
	if _, err := cms.Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("create refused by the validating plugin: got %v, want Forbidden", err)
	}
	if _, err := cms.Get(ctx, "bad", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a refused create was stored: %v", err)
	}
	got.Labels["deny"] = "yes"
	if _, err := cms.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("update refused by the validating plugin: got %v, want Forbidden", err)
	}
	if err := cms.Delete(ctx, "ok", metav1.DeleteOptions{}); err != nil {
		t.Errorf("delete: %v", err)
	}
	want := []admission.Operation{admission.Create, admission.Create, admission.Update, admission.Delete}
	if len(p.seen) != len(want) {
		t.Fatalf("validating plugin saw %v, want %v", p.seen, want)
	}
	for i := range want {
		if p.seen[i] != want[i] {
			t.Errorf("operation %d = %s, want %s", i, p.seen[i], want[i])
		}
	}
}
