package apiserver

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/resources"
)

// maxBody is the largest request body accepted, as in Kubernetes.
const maxBody = 3 << 20

// output is how a response is to be written.
type output struct {
	info runtime.SerializerInfo
	// as is the transformation the client asked for: "", "Table",
	// "PartialObjectMetadata", "PartialObjectMetadataList" or "APIGroupDiscoveryList".
	as string
}

// negotiate picks the response encoding from the Accept header: the first media range
// this server can produce wins.
func negotiate(r *http.Request) (output, error) {
	accept := r.Header.Get("Accept")
	if accept == "" {
		accept = "application/json"
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if mt == "*/*" || mt == "application/*" {
			mt = "application/json"
		}
		info, ok := serializerFor(mt)
		if !ok {
			continue
		}
		as := params["as"]
		switch as {
		case "":
		case "Table", "PartialObjectMetadata", "PartialObjectMetadataList":
			if params["g"] != "meta.k8s.io" || (params["v"] != "v1" && params["v"] != "v1beta1") {
				continue
			}
		case "APIGroupDiscoveryList":
			if params["g"] != "apidiscovery.k8s.io" || params["v"] != "v2" {
				continue
			}
		default:
			continue
		}
		return output{info: info, as: as}, nil
	}
	return output{}, apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "get", schema.GroupResource{}, "",
		fmt.Sprintf("only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf (asked for %q)", accept), 0, false)
}

func serializerFor(mediaType string) (runtime.SerializerInfo, bool) {
	for _, info := range resources.Codecs.SupportedMediaTypes() {
		if info.MediaType == mediaType {
			return info, true
		}
	}
	return runtime.SerializerInfo{}, false
}

// readBody reads at most maxBody bytes.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, apierrors.NewBadRequest("reading request body: " + err.Error())
	}
	if len(body) > maxBody {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d bytes", maxBody))
	}
	return body, nil
}

// decodeBody decodes a request body of the served kind. With strict, unknown and
// duplicate fields are errors; otherwise they come back as warnings.
func decodeBody(r *http.Request, body []byte, gvk schema.GroupVersionKind, strict bool) (runtime.Object, []string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/json"
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, nil, unsupportedMediaType(ct)
	}
	info, ok := serializerFor(mt)
	if !ok {
		return nil, nil, unsupportedMediaType(ct)
	}
	var warnings []string
	if info.MediaType != "application/vnd.kubernetes.protobuf" {
		var upgraded []string
		if body, upgraded = resources.UpgradeLegacyFields(gvk, body); len(upgraded) > 0 {
			warnings = upgraded
			info, _ = serializerFor("application/json")
		}
	}
	dec := info.Serializer
	if info.StrictSerializer != nil {
		dec = info.StrictSerializer
	}
	obj, got, err := dec.Decode(body, &gvk, nil)
	if err != nil && runtime.IsStrictDecodingError(err) && obj != nil {
		// The decoder returns the whole object besides what it found unknown or
		// duplicated: Strict refuses it, Warn and Ignore keep it without those fields.
		if strict {
			return nil, nil, apierrors.NewBadRequest(strictMessage(err))
		}
		warnings = append(warnings, strictWarnings(err)...)
		err = nil
	}
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf: %v", err))
	}
	if *got != gvk {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", got.GroupVersion(), gvk.GroupVersion()))
	}
	return obj, warnings, nil
}

func strictMessage(err error) string {
	return "strict decoding error: " + strings.Join(strictWarnings(err), ", ")
}

func strictWarnings(err error) []string {
	se, ok := runtime.AsStrictDecodingError(err)
	if !ok {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range se.Errors() {
		out = append(out, e.Error())
	}
	return out
}

func unsupportedMediaType(ct string) error {
	return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "",
		fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got %q)", ct), 0, false)
}

// encode writes obj with the negotiated serializer, stamped as version gv.
func encode(out output, gv schema.GroupVersion, obj runtime.Object) ([]byte, error) {
	out = encodable(out, obj)
	var buf bytes.Buffer
	serializer := out.info.Serializer
	if _, ok := obj.(*unstructured.Unstructured); ok && out.info.MediaType == runtime.ContentTypeJSON {
		// The same bytes, encoded once: the JSON serializer would call the
		// object's MarshalJSON, which encodes it, then check and copy the result.
		serializer = unstructured.UnstructuredJSONScheme
	}
	enc := runtime.WithVersionEncoder{Version: gv, Encoder: serializer, ObjectTyper: resources.Scheme}
	if err := enc.Encode(obj, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeObject(w http.ResponseWriter, out output, code int, gv schema.GroupVersion, obj runtime.Object) {
	data, err := encode(out, gv, obj)
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	ct := encodable(out, obj).info.MediaType
	if out.as != "" {
		ct = fmt.Sprintf("%s;as=%s;g=meta.k8s.io;v=v1", ct, out.as)
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(code)
	_, _ = w.Write(data)
}

// call is what every write request starts with: the negotiated response format, the
// write options and the raw body.
type call struct {
	out  output
	opts writeOptions
	raw  []byte
}

// begin reads a write request's format, options and body, answering the error itself.
func begin(w http.ResponseWriter, r *http.Request) (*call, bool) {
	out, err := negotiate(r)
	var opts writeOptions
	if err == nil {
		opts, err = optionsOf(r)
	}
	var raw []byte
	if err == nil {
		raw, err = readBody(r)
	}
	if err != nil {
		writeError(w, err)
		return nil, false
	}
	return &call{out: out, opts: opts, raw: raw}, true
}

// beginCreate starts a request to a create-only resource (reviews, bindings, token
// requests): any other verb is refused, and the body is decoded as gvk.
func beginCreate(w http.ResponseWriter, r *http.Request, q request, ep *endpoint, gvk schema.GroupVersionKind) (*call, runtime.Object, bool) {
	if q.Verb != "create" {
		writeError(w, apierrors.NewMethodNotSupported(ep.GroupResource(), r.Method))
		return nil, nil, false
	}
	c, ok := begin(w, r)
	if !ok {
		return nil, nil, false
	}
	obj, ok := c.decode(w, r, gvk)
	return c, obj, ok
}

// decode decodes the body as gvk, passing unknown-field warnings to the client.
func (c *call) decode(w http.ResponseWriter, r *http.Request, gvk schema.GroupVersionKind) (runtime.Object, bool) {
	obj, warnings, err := decodeBody(r, c.raw, gvk, c.opts.strict)
	if err != nil {
		writeError(w, err)
		return nil, false
	}
	c.warnUnknown(w, warnings)
	return obj, true
}
