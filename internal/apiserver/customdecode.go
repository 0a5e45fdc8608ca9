package apiserver

import (
	"fmt"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// decodeFor decodes a write's body as the endpoint's kind, passing unknown-field
// warnings to the client.
func (c *call) decodeFor(w http.ResponseWriter, r *http.Request, ep *endpoint) (runtime.Object, bool) {
	if ep.custom == nil {
		return c.decode(w, r, ep.GVK())
	}
	mt, _, err := mime.ParseMediaType(contentTypeOrJSON(r))
	data := c.raw
	switch {
	case err != nil:
		err = unsupportedMediaType(r.Header.Get("Content-Type"))
	case mt == "application/yaml":
		if data, err = yaml.YAMLToJSON(c.raw); err != nil {
			err = apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err))
		}
	case mt != "application/json":
		err = customMediaTypes(mt)
	}
	var obj runtime.Object
	var warnings []string
	if err == nil {
		obj, warnings, err = decodeCustom(data, ep, c.opts.strict)
	}
	if err != nil {
		writeError(w, err)
		return nil, false
	}
	c.warnUnknown(w, warnings)
	return obj, true
}

// warnUnknown passes the unknown fields dropped to the client, unless it asked
// for them to be ignored.
func (c *call) warnUnknown(w http.ResponseWriter, warnings []string) {
	if !c.opts.ignore {
		warn(w, warnings)
	}
}

func contentTypeOrJSON(r *http.Request) string {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		return ct
	}
	return "application/json"
}

// decodeCustom decodes a custom object, prunes what its schema does not know and
// applies its defaults: with strict an unknown field is refused, otherwise each
// dropped field is a warning, in Kubernetes' words.
func decodeCustom(data []byte, ep *endpoint, strict bool) (runtime.Object, []string, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml: %v", err))
	}
	if gvk := u.GroupVersionKind(); gvk != ep.GVK() {
		if gvk.GroupVersion() != ep.GroupVersion() {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", gvk.GroupVersion(), ep.GroupVersion()))
		}
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", gvk.Kind, ep.Kind))
	}
	unknown, err := ep.custom.Prune(u, strict)
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	var warnings []string
	for _, f := range unknown {
		warnings = append(warnings, fmt.Sprintf("unknown field %q", f))
	}
	if strict && len(warnings) > 0 {
		return nil, nil, apierrors.NewBadRequest("strict decoding error: " + strings.Join(warnings, ", "))
	}
	ep.custom.Convert.Default(u)
	return u, warnings, nil
}

// customMediaTypes refuses what custom resources cannot be written in (protobuf).
func customMediaTypes(got string) error {
	return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "",
		fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got %q)", got), 0, false)
}

// strategicMergeUnsupported is Kubernetes' answer to a strategic merge patch of a
// custom resource, which has no Go struct tags to merge by.
func strategicMergeUnsupported() error {
	return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", schema.GroupResource{}, "",
		"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml", 0, false)
}

// encodable is out, or JSON for custom objects asked for as protobuf: they have
// no protobuf form, and clients that ask for protobuf also accept JSON.
func encodable(out output, obj runtime.Object) output {
	if _, ok := obj.(runtime.Unstructured); ok && out.info.MediaType == runtime.ContentTypeProtobuf {
		out.info, _ = serializerFor(runtime.ContentTypeJSON)
	}
	return out
}
