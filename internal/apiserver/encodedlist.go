package apiserver

import (
	"bytes"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"google.golang.org/protobuf/encoding/protowire"

	"skiff/internal/resources"
	"skiff/internal/store"
)

// protobufMagic starts every object Kubernetes encodes as protobuf; a
// runtime.Unknown envelope follows.
var protobufMagic = []byte{0x6b, 0x38, 0x73, 0x00}

// Field numbers of Kubernetes' protobuf messages that a list written from
// encoded objects touches.
const (
	unknownRawField      = 2 // runtime.Unknown.raw: the object's own message
	metadataField        = 1 // every kind's metadata and every list's
	itemsField           = 2 // every list's items
	resourceVersionField = 6 // ObjectMeta.resourceVersion
)

// encodedListable tells whether a list can be written from the cache's encoded
// objects: a protobuf list, neither a table nor metadata only, of a built-in kind
// served in the version it is stored in, laid out as list and object messages
// are (checked, not assumed).
func encodedListable(out output, ep *endpoint) bool {
	if out.as != "" || out.info.MediaType != runtime.ContentTypeProtobuf || ep.custom != nil ||
		ep.GroupVersion() != ep.Storage || !ep.store.Protobuf() {
		return false
	}
	obj, err := resources.Scheme.New(ep.StorageGVK())
	if err != nil {
		return false
	}
	list, err := ep.newList()
	if err != nil {
		return false
	}
	return hasProtoField(obj, "ObjectMeta", metadataField) &&
		hasProtoField(list, "ListMeta", metadataField) && hasProtoField(list, "Items", itemsField)
}

// hasProtoField tells whether obj's struct field name is encoded as protobuf
// field number num.
func hasProtoField(obj runtime.Object, name string, num int) bool {
	t := reflect.TypeOf(obj)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return false
	}
	f, ok := t.Elem().FieldByName(name)
	return ok && strings.HasPrefix(f.Tag.Get("protobuf"), "bytes,"+strconv.Itoa(num)+",")
}

// listEncoded answers a list from the cache's encoded objects: each is copied
// into the response with its resourceVersion stamped in, none is decoded unless
// the selector must look at it.
func (a *API) listEncoded(w http.ResponseWriter, r *http.Request, ep *endpoint, o store.ListOptions) {
	items, rev, cont, err := ep.store.ListEncoded(r.Context(), o)
	if err != nil {
		writeError(w, err)
		return
	}
	data, err := encodeList(ep.GroupVersion().WithKind(ep.ListKind), listMetaOf(rev, cont, *o.Remaining), items)
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	w.Header().Set("Content-Type", runtime.ContentTypeProtobuf)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// encodeList writes a list of kind gvk as Kubernetes' protobuf serializer
// would, from objects in their stored protobuf encoding.
func encodeList(gvk schema.GroupVersionKind, lm metav1.ListMeta, items []store.Encoded) ([]byte, error) {
	meta, err := lm.Marshal()
	if err != nil {
		return nil, err
	}
	size := len(meta) + 16
	for _, it := range items {
		size += len(it.Data) + 32
	}
	body := make([]byte, 0, size)
	body = protowire.AppendTag(body, metadataField, protowire.BytesType)
	body = protowire.AppendBytes(body, meta)
	for _, it := range items {
		if body, err = appendItem(body, it); err != nil {
			return nil, err
		}
	}
	u := runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind}, Raw: body}
	env, err := u.Marshal()
	if err != nil {
		return nil, err
	}
	return append(append(make([]byte, 0, len(protobufMagic)+len(env)), protobufMagic...), env...), nil
}

// appendItem appends it to a list message as one of its items: the object's
// own message out of its envelope, with metadata.resourceVersion set to it.Rev.
func appendItem(b []byte, it store.Encoded) ([]byte, error) {
	if !bytes.HasPrefix(it.Data, protobufMagic) {
		return nil, errors.New("stored object is not protobuf")
	}
	_, _, obj, err := protoField(it.Data[len(protobufMagic):], unknownRawField)
	if err != nil {
		return nil, err
	}
	ms, me, meta, err := protoField(obj, metadataField)
	if err != nil {
		return nil, err
	}
	rs, re, _, err := protoField(meta, resourceVersionField)
	if err != nil {
		return nil, err
	}
	rv := protowire.AppendTag(nil, resourceVersionField, protowire.BytesType)
	rv = protowire.AppendString(rv, strconv.FormatInt(it.Rev, 10))
	metaLen := len(meta) - (re - rs) + len(rv)
	metaFieldLen := protowire.SizeTag(metadataField) + protowire.SizeBytes(metaLen)
	b = protowire.AppendTag(b, itemsField, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(len(obj)-(me-ms)+metaFieldLen))
	b = append(b, obj[:ms]...)
	b = protowire.AppendTag(b, metadataField, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(metaLen))
	b = append(append(append(b, meta[:rs]...), rv...), meta[re:]...)
	return append(b, obj[me:]...), nil
}

// protoField finds the first length-delimited field num of a protobuf message:
// where it starts and ends (tag included) and its contents. An absent field
// reads as empty at the message's end, where it can be appended.
func protoField(msg []byte, num protowire.Number) (start, end int, val []byte, err error) {
	for i := 0; i < len(msg); {
		n, typ, tagLen := protowire.ConsumeTag(msg[i:])
		if tagLen < 0 {
			return 0, 0, nil, protowire.ParseError(tagLen)
		}
		valLen := protowire.ConsumeFieldValue(n, typ, msg[i+tagLen:])
		if valLen < 0 {
			return 0, 0, nil, protowire.ParseError(valLen)
		}
		if n == num && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(msg[i+tagLen:])
			return i, i + tagLen + valLen, v, nil
		}
		i += tagLen + valLen
	}
	return len(msg), len(msg), nil, nil
}
