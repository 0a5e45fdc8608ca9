package openapi

import (
	"bytes"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"github.com/munnerz/goautoneg"
	"google.golang.org/protobuf/proto"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Media types of /openapi/v2. kube-openapi's v2 handler package would do
// this negotiation, but it pulls in a gzip module skiff does not depend on,
// so the little it does is done here.
const (
	protoV2Deprecated = "com.github.proto-openapi.spec.v2@v1.0+protobuf" // what client-go asks for
	protoV2           = "com.github.proto-openapi.spec.v2.v1.0+protobuf"
)

// v2Document is the v2 document in JSON, and in protobuf once asked for:
// converting takes a while and only some clients want it.
type v2Document struct {
	json     []byte
	etag     string
	modified time.Time

	protoOnce sync.Once
	proto     []byte
	protoErr  error
}

func newV2Document(swagger *spec.Swagger) (*v2Document, error) {
	data, err := json.Marshal(swagger)
	if err != nil {
		return nil, fmt.Errorf("openapi: encoding v2: %w", err)
	}
	return &v2Document{json: data, etag: fmt.Sprintf("%X", sha512.Sum512(data)), modified: time.Now()}, nil
}

func (d *v2Document) protobuf() ([]byte, error) {
	d.protoOnce.Do(func() {
		doc, err := openapiv2.ParseDocument(d.json)
		if err != nil {
			d.protoErr = err
			return
		}
		d.proto, d.protoErr = proto.Marshal(doc)
	})
	return d.proto, d.protoErr
}

// serve answers with the first representation the Accept header allows, in
// the client's order of preference. Both share one ETag: they are the same
// document, and Vary: Accept keeps caches from mixing them up.
func (d *v2Document) serve(w http.ResponseWriter, r *http.Request) {
	accept := r.Header.Get("Accept")
	if accept == "" {
		accept = "*/*"
	}
	w.Header().Add("Vary", "Accept")
	for _, c := range goautoneg.ParseAccept(accept) {
		if c.Type != "application" && c.Type != "*" {
			continue
		}
		var (
			body        []byte
			contentType string
		)
		switch c.SubType {
		case "json", "*":
			body, contentType = d.json, "application/json"
		case protoV2, protoV2Deprecated:
			pb, err := d.protobuf()
			if err != nil {
				slog.Error("openapi: converting v2 document to protobuf", "err", err)
				http.Error(w, "cannot encode the OpenAPI document as protobuf", http.StatusInternalServerError)
				return
			}
			body, contentType = pb, "application/"+protoV2
		default:
			continue
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("ETag", strconv.Quote(d.etag))
		http.ServeContent(w, r, "", d.modified, bytes.NewReader(body))
		return
	}
	http.Error(w, "the OpenAPI v2 document is served as application/json or application/"+protoV2, http.StatusNotAcceptable)
}
