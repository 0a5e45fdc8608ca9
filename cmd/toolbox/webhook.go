package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// webhook is `toolbox webhook`: an HTTPS admission webhook with a handler per
// behaviour a test needs: /mutate adds a label, /validate denies objects carrying a
// label, /hang never answers and /garbage answers with something that is not a review;
// /convert is a CRD conversion webhook (see convert).
// It doubles as a tiny aggregated API server: /apis/GROUP/VERSION lists one resource,
// and /apis/GROUP/VERSION/whoami tells who the API server says the caller is.
type webhook struct {
	label string // key=value that /mutate adds
	deny  string // key=value that /validate refuses
}

func runWebhook(ctx context.Context, args []string) error {
	fs := newFlags("webhook")
	port := fs.Int("port", 8443, "TCP port to listen on (HTTPS)")
	cert := fs.String("cert", "/tls/tls.crt", "serving certificate (PEM)")
	key := fs.String("key", "/tls/tls.key", "serving key (PEM)")
	label := fs.String("label", "mutated-by=toolbox", "label /mutate adds, key=value")
	deny := fs.String("deny", "forbidden=true", "label /validate refuses, key=value")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		return err
	}
	wh := &webhook{label: *label, deny: *deny}
	mux := http.NewServeMux()
	mux.HandleFunc("/mutate", wh.review(wh.mutate))
	mux.HandleFunc("/validate", wh.review(wh.validate))
	mux.HandleFunc("/convert", convert)
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "this is not an AdmissionReview") })
	mux.HandleFunc("/apis/", serveAggregated)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(*port))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		// Callers' certificates are asked for (not verified) so whoami can name the
		// front-proxy certificate the API server presents.
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12, ClientAuth: tls.RequestClientCert}}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	log.Printf("webhook listening on :%d", *port)
	if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// review decodes an AdmissionReview, lets decide answer it, and sends the review back.
func (wh *webhook) review(decide func(*admissionv1.AdmissionRequest, *admissionv1.AdmissionResponse) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var rev admissionv1.AdmissionReview
		if err := json.NewDecoder(r.Body).Decode(&rev); err != nil || rev.Request == nil {
			http.Error(w, "expected an AdmissionReview with a request", http.StatusBadRequest)
			return
		}
		resp := &admissionv1.AdmissionResponse{UID: rev.Request.UID, Allowed: true}
		if err := decide(rev.Request, resp); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		log.Printf("%s %s %s/%s: allowed=%v", rev.Request.Operation, rev.Request.Resource.Resource, rev.Request.Namespace, rev.Request.Name, resp.Allowed)
		rev.Request, rev.Response = nil, resp
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&rev)
	}
}

// labelsOf reads the labels of the object under review (the old one for a delete).
func labelsOf(req *admissionv1.AdmissionRequest) (map[string]string, error) {
	raw := req.Object.Raw
	if len(raw) == 0 {
		raw = req.OldObject.Raw
	}
	var obj struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	err := json.Unmarshal(raw, &obj)
	return obj.Metadata.Labels, err
}

// mutate adds wh.label with a JSONPatch, and says so in a warning.
func (wh *webhook) mutate(req *admissionv1.AdmissionRequest, resp *admissionv1.AdmissionResponse) error {
	labels, err := labelsOf(req)
	if err != nil {
		return err
	}
	k, v, _ := strings.Cut(wh.label, "=")
	var op any
	if labels == nil {
		op = map[string]any{"op": "add", "path": "/metadata/labels", "value": map[string]string{k: v}}
	} else {
		path := "/metadata/labels/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
		op = map[string]any{"op": "add", "path": path, "value": v}
	}
	patch, err := json.Marshal([]any{op})
	if err != nil {
		return err
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = patch, &pt
	resp.Warnings = []string{"toolbox webhook added label " + wh.label}
	resp.AuditAnnotations = map[string]string{"mutated": wh.label}
	return nil
}

// validate refuses objects labelled wh.deny.
func (wh *webhook) validate(req *admissionv1.AdmissionRequest, resp *admissionv1.AdmissionResponse) error {
	labels, err := labelsOf(req)
	if err != nil {
		return err
	}
	k, v, _ := strings.Cut(wh.deny, "=")
	if got, ok := labels[k]; ok && got == v {
		resp.Allowed = false
		resp.Result = &metav1.Status{Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden,
			Message: "toolbox webhook denies objects labelled " + wh.deny}
	}
	return nil
}

// serveAggregated answers an aggregated API's discovery and its whoami, from the
// front-proxy headers the API server sets.
func serveAggregated(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/apis/"), "/"), "/")
	w.Header().Set("Content-Type", "application/json")
	switch {
	case len(parts) == 2:
		_ = json.NewEncoder(w).Encode(&metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: parts[0] + "/" + parts[1],
			APIResources: []metav1.APIResource{{Name: "whoami", Kind: "WhoAmI", Verbs: metav1.Verbs{"get"}}},
		})
	case len(parts) == 3 && parts[2] == "whoami":
		cert := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			cert = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"user": r.Header.Get("X-Remote-User"), "groups": r.Header.Values("X-Remote-Group"),
			"clientCertificate": cert})
	default:
		http.NotFound(w, r)
	}
}
