package apiserver

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"skiff/internal/resources"
)

// conflictRetries bounds how often a patch is recomputed when the object changed under it.
const conflictRetries = 5

func (a *API) patch(w http.ResponseWriter, r *http.Request, q request, ep *endpoint) {
	c, ok := begin(w, r)
	if !ok {
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	pt := types.PatchType(mt)
	switch pt {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyYAMLPatchType, types.ApplyCBORPatchType:
	default:
		writeError(w, unsupportedMediaType(mt))
		return
	}
	if pt == types.ApplyYAMLPatchType && r.URL.Query().Get("fieldManager") == "" {
		writeError(w, apierrors.NewBadRequest("PATCH with apply requires a fieldManager query parameter"))
		return
	}
	force := r.URL.Query().Get("force") == "true"
	var result runtime.Object
	var warnings []string
	var err error
	for try := 0; ; try++ {
		result, warnings, err = a.patchOnce(r, q, ep, pt, c.raw, c.opts, force)
		if !apierrors.IsConflict(err) || try == conflictRetries || pinnedVersion(pt, c.raw) {
			break
		}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	c.warnUnknown(w, warnings)
	a.respond(w, r, c.out, http.StatusOK, ep, result)
}

// pinnedVersion reports a patch that names a resourceVersion: its conflicts are the
// client's to resolve, not ours to retry.
func pinnedVersion(pt types.PatchType, body []byte) bool {
	if pt == types.JSONPatchType {
		return false
	}
	var m struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	_ = yaml.Unmarshal(body, &m)
	return m.Metadata.ResourceVersion != ""
}

// patchOnce patches the current object; the warnings name unknown fields dropped.
func (a *API) patchOnce(r *http.Request, q request, ep *endpoint, pt types.PatchType, body []byte, opts writeOptions, force bool) (runtime.Object, []string, error) {
	ctx := r.Context()
	cur, err := ep.store.Get(ctx, q.Namespace, q.Name)
	if apierrors.IsNotFound(err) && pt == types.ApplyYAMLPatchType && q.Subresource == "" {
		return a.applyCreate(r, q, ep, body, opts, force)
	}
	if err != nil {
		return nil, nil, err
	}
	var obj runtime.Object
	var warnings []string
	if pt == types.ApplyYAMLPatchType {
		obj, warnings, err = a.apply(ep, q.Subresource, cur, body, opts, force)
	} else {
		obj, warnings, err = patchObject(ep, cur, pt, body, opts.strict)
	}
	if err != nil {
		return nil, nil, err
	}
	m, _ := meta.Accessor(obj)
	if m.GetName() != q.Name {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), q.Name))
	}
	if rv := m.GetResourceVersion(); rv != "" && rv != resourceVersion(cur) {
		return nil, nil, apierrors.NewConflict(ep.GroupResource(), q.Name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
	}
	obj, err = a.updateObject(ctx, ep, q, cur, obj, opts, pt != types.ApplyYAMLPatchType)
	return obj, warnings, err
}

// patchObject applies a JSON, merge or strategic merge patch to the served form of cur
// and returns the result in the stored form, with a warning per unknown field dropped.
func patchObject(ep *endpoint, cur runtime.Object, pt types.PatchType, patch []byte, strict bool) (runtime.Object, []string, error) {
	served, err := toServed(ep, cur.DeepCopyObject())
	if err != nil {
		return nil, nil, err
	}
	served.GetObjectKind().SetGroupVersionKind(ep.GVK())
	original, err := json.Marshal(served)
	if err != nil {
		return nil, nil, err
	}
	var patched []byte
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(err.Error())
		}
		if patched, err = p.Apply(original); err != nil {
			return nil, nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", ep.GroupResource(), "", err.Error(), 0, false)
		}
	case types.MergePatchType:
		if patched, err = jsonpatch.MergePatch(original, patch); err != nil {
			return nil, nil, apierrors.NewBadRequest(err.Error())
		}
	case types.StrategicMergePatchType:
		if ep.custom != nil {
			return nil, nil, strategicMergeUnsupported()
		}
		schemaObj, _ := resources.Scheme.New(ep.GVK())
		if patched, err = strategicpatch.StrategicMergePatch(original, patch, schemaObj); err != nil {
			return nil, nil, apierrors.NewBadRequest(err.Error())
		}
	}
	if err := sameType(ep, cur, patched); err != nil {
		return nil, nil, err
	}
	obj, warnings, err := decodeJSON(patched, ep, strict)
	if err != nil {
		return nil, nil, err
	}
	obj, err = toStorage(ep, obj)
	return obj, warnings, err
}

// sameType refuses a patch that changes the object's apiVersion or kind: a
// patch edits an object, it cannot turn it into another type.
func sameType(ep *endpoint, cur runtime.Object, patched []byte) error {
	var tm metav1.TypeMeta
	if err := json.Unmarshal(patched, &tm); err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	want := ep.GVK()
	var errs field.ErrorList
	if tm.APIVersion != "" && tm.APIVersion != want.GroupVersion().String() {
		errs = append(errs, field.Invalid(field.NewPath("apiVersion"), tm.APIVersion, "a patch cannot change the apiVersion; must be "+want.GroupVersion().String()))
	}
	if tm.Kind != "" && tm.Kind != want.Kind {
		errs = append(errs, field.Invalid(field.NewPath("kind"), tm.Kind, "a patch cannot change the kind; must be "+want.Kind))
	}
	if len(errs) == 0 {
		return nil
	}
	name := ""
	if m, err := meta.Accessor(cur); err == nil {
		name = m.GetName()
	}
	return invalid(want.GroupKind(), name, errs)
}

func decodeJSON(data []byte, ep *endpoint, strict bool) (runtime.Object, []string, error) {
	if ep.custom != nil {
		return decodeCustom(data, ep, strict)
	}
	info, _ := serializerFor("application/json")
	gvk := ep.GVK()
	obj, _, err := info.StrictSerializer.Decode(data, &gvk, nil)
	if err != nil && runtime.IsStrictDecodingError(err) && obj != nil {
		if strict {
			return nil, nil, apierrors.NewBadRequest(strictMessage(err))
		}
		return obj, strictWarnings(err), nil
	}
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	return obj, nil, nil
}

// apply runs server-side apply through the field manager. A key given twice in the
// applied YAML is refused with fieldValidation=Strict and a warning with Warn, in
// Kubernetes' words.
func (a *API) apply(ep *endpoint, sub string, cur runtime.Object, body []byte, opts writeOptions, force bool) (runtime.Object, []string, error) {
	patchObj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(body, &patchObj.Object); err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err))
	}
	var warnings []string
	if !opts.ignore {
		if err := yaml.UnmarshalStrict(body, &map[string]interface{}{}); err != nil {
			if opts.strict {
				return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("error strict decoding YAML: %v", err))
			}
			warnings = append(warnings, err.Error())
		}
	}
	if patchObj.GetAPIVersion() != ep.GroupVersion().String() || patchObj.GetKind() != ep.Kind {
		if patchObj.GetKind() != ep.Kind {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("kind %q of the applied object does not match %q", patchObj.GetKind(), ep.Kind))
		}
	}
	// Objects of an older alias version with the same fields are applied as the
	// stored version; custom objects as the served version, whose schema their
	// field managers know.
	version := ep.Storage
	if ep.custom != nil {
		version = ep.GroupVersion()
	}
	patchObj.SetAPIVersion(version.String())
	mgr := ep.managers[sub]
	if mgr == nil {
		mgr = ep.managers[""]
	}
	obj, err := mgr.Apply(cur.DeepCopyObject(), patchObj, opts.manager, force)
	if _, isStatus := err.(apierrors.APIStatus); err != nil && !isStatus {
		// The applied configuration does not fit the kind's schema (an unknown
		// field, a wrong type): the client's to fix, as Kubernetes says.
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	return obj, warnings, err
}

// applyCreate creates the object a server-side apply names when it does not exist yet.
func (a *API) applyCreate(r *http.Request, q request, ep *endpoint, body []byte, opts writeOptions, force bool) (runtime.Object, []string, error) {
	empty, _ := ep.newObject(ep.StorageGVK())
	m, _ := meta.Accessor(empty)
	m.SetName(q.Name)
	m.SetNamespace(q.Namespace)
	obj, warnings, err := a.apply(ep, "", empty, body, opts, force)
	if err != nil {
		return nil, nil, err
	}
	obj, err = a.createObject(r.Context(), ep, q.Namespace, obj, opts, false)
	return obj, warnings, err
}
