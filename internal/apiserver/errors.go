package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// writeError answers with a metav1.Status: the shape every Kubernetes client expects.
func writeError(w http.ResponseWriter, err error) {
	st := statusOf(err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	_ = json.NewEncoder(w).Encode(st)
}

func statusOf(err error) metav1.Status {
	var api apierrors.APIStatus
	if errors.As(err, &api) {
		st := api.Status()
		st.Kind, st.APIVersion = "Status", "v1"
		if st.Status == "" {
			st.Status = metav1.StatusFailure
		}
		if st.Code == 0 {
			st.Code = http.StatusInternalServerError
		}
		return st
	}
	if u := etcdUnavailable(err); u != nil {
		return statusOf(u)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return statusOf(apierrors.NewTimeoutError("request did not complete in time", 1))
	case errors.Is(err, context.Canceled):
		return statusOf(apierrors.NewGenericServerResponse(499, "", schema.GroupResource{}, "", "request canceled", 0, false))
	}
	slog.Error("internal error", "err", err)
	return statusOf(apierrors.NewInternalError(err))
}

// invalid is 422 with one cause per field, as kubectl prints them.
func invalid(kind schema.GroupKind, name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(kind, name, errs)
}
