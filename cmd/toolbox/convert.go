package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// convert is the webhook's /convert: a CRD conversion webhook between a v1 whose
// spec.size is a decimal string and a v2 whose spec.replicas is an integer (the
// same number, so every conversion round-trips). It answers ConversionReview v1
// and v1beta1, which have the same shape, in the version it was asked in.
func convert(w http.ResponseWriter, r *http.Request) {
	var rev apiextensionsv1.ConversionReview
	if err := json.NewDecoder(r.Body).Decode(&rev); err != nil || rev.Request == nil {
		http.Error(w, "expected a ConversionReview with a request", http.StatusBadRequest)
		return
	}
	req := rev.Request
	resp := &apiextensionsv1.ConversionResponse{UID: req.UID, Result: metav1.Status{Status: metav1.StatusSuccess}}
	for _, raw := range req.Objects {
		out, err := convertObject(raw.Raw, req.DesiredAPIVersion)
		if err != nil {
			resp.ConvertedObjects = nil
			resp.Result = metav1.Status{Status: metav1.StatusFailure, Message: err.Error()}
			break
		}
		resp.ConvertedObjects = append(resp.ConvertedObjects, runtime.RawExtension{Raw: out})
	}
	log.Printf("convert %d objects to %s: %s %s", len(req.Objects), req.DesiredAPIVersion, resp.Result.Status, resp.Result.Message)
	rev.Request, rev.Response = nil, resp
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&rev)
}

// convertObject moves spec.size (v1) to spec.replicas (v2) or back, and sets the
// desired apiVersion.
func convertObject(raw []byte, desired string) ([]byte, error) {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	from, _ := obj["apiVersion"].(string)
	spec, _ := obj["spec"].(map[string]any)
	toV2 := strings.HasSuffix(desired, "/v2")
	switch {
	case spec == nil || from == desired:
	case toV2 && spec["size"] != nil:
		size, _ := spec["size"].(string)
		n, err := strconv.Atoi(size)
		if err != nil {
			return nil, fmt.Errorf("spec.size %q is not a number", size)
		}
		delete(spec, "size")
		spec["replicas"] = n
	case !toV2 && spec["replicas"] != nil:
		n, ok := spec["replicas"].(float64)
		if !ok {
			return nil, fmt.Errorf("spec.replicas %v is not a number", spec["replicas"])
		}
		delete(spec, "replicas")
		spec["size"] = strconv.Itoa(int(n))
	}
	obj["apiVersion"] = desired
	return json.Marshal(obj)
}
