package apiserver

import (
	"bytes"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"

	"skiff/internal/resources"
	"skiff/internal/store"
)

// TestEncodeListStampsResourceVersions: a list written from stored protobuf
// decodes, with the client's own serializer, to the objects with each one's
// resourceVersion, whether the stored bytes held an empty one, a stale one, or
// (another encoder's output) none.
func TestEncodeListStampsResourceVersions(t *testing.T) {
	proto := protobuf.NewSerializer(resources.Scheme, resources.Scheme)
	enc := runtime.WithVersionEncoder{Version: corev1.SchemeGroupVersion, Encoder: proto, ObjectTyper: resources.Scheme}
	objs := []*corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", Labels: map[string]string{"x": "y"}}, Data: map[string]string{"k": "v"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns", ResourceVersion: "7"}},
	}
	var items []store.Encoded
	for i, o := range objs {
		var buf bytes.Buffer
		if err := enc.Encode(o, &buf); err != nil {
			t.Fatal(err)
		}
		items = append(items, store.Encoded{Data: buf.Bytes(), Rev: int64(40 + i)})
	}
	// The same object with metadata.resourceVersion (field 6) cut out.
	noRV := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"}}
	var buf bytes.Buffer
	if err := enc.Encode(noRV, &buf); err != nil {
		t.Fatal(err)
	}
	items = append(items, store.Encoded{Data: withoutEmptyRV(t, buf.Bytes()), Rev: 99})
	objs = append(objs, noRV)

	data, err := encodeList(corev1.SchemeGroupVersion.WithKind("ConfigMapList"), metav1.ListMeta{ResourceVersion: "100", Continue: "next"}, items)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := proto.Decode(data, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := got.(*corev1.ConfigMapList)
	if !ok || l.ResourceVersion != "100" || l.Continue != "next" || len(l.Items) != len(objs) {
		t.Fatalf("decoded %T %+v", got, got)
	}
	for i, want := range objs {
		w := want.DeepCopy()
		w.ResourceVersion = []string{"40", "41", "99"}[i]
		if !apiequality.Semantic.DeepEqual(&l.Items[i], w) {
			t.Errorf("item %d = %+v, want %+v", i, l.Items[i], w)
		}
	}
}

// withoutEmptyRV returns a stored object with the empty resourceVersion field
// (tag 0x32, length 0) that Kubernetes' encoder writes dropped from its metadata.
func withoutEmptyRV(t *testing.T, data []byte) []byte {
	t.Helper()
	_, _, obj, err := protoField(data[len(protobufMagic):], unknownRawField)
	if err != nil {
		t.Fatal(err)
	}
	ms, me, meta, err := protoField(obj, metadataField)
	if err != nil {
		t.Fatal(err)
	}
	rs, re, _, err := protoField(meta, resourceVersionField)
	if err != nil || re-rs != 2 {
		t.Fatalf("stored metadata has no empty resourceVersion (%d bytes, %v)", re-rs, err)
	}
	newMeta := append(append([]byte{}, meta[:rs]...), meta[re:]...)
	newObj := append(append([]byte{}, obj[:ms]...), 0x0a, byte(len(newMeta)))
	newObj = append(append(newObj, newMeta...), obj[me:]...)
	u := runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, Raw: newObj}
	env, err := u.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte{}, protobufMagic...), env...)
}
