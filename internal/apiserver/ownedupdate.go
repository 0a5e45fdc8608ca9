package apiserver

import (
	"bytes"
	"reflect"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
	smdtyped "sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"skiff/internal/resources"
)

// ownedUpdates records, for one built-in kind, the managed fields of an update
// whose every changed field its manager alone already owns: a kubelet renewing
// its Lease, or writing a heartbeat time into a condition it reported before.
// The field manager's answer is then the stored managed fields with that
// manager's time moved to now; the library gets there by converting both objects
// into typed values and comparing them whole, which was about a third of a
// heartbeat's handler CPU. Any case this does not recognise (a field added or
// removed, a list reordered, a granular map, a field another manager shares,
// managed fields the client rewrote or that the library would rewrite itself)
// is left to the library, whose result this must equal byte for byte.
type ownedUpdates struct {
	schema     *smdschema.Schema
	typeRef    smdschema.TypeRef
	apiVersion string
	// filters are what the library's manager of each subresource leaves out of
	// what an update takes (status for the main resource, spec and metadata for
	// status).
	filters map[string]fieldpath.Filter
}

// newOwnedUpdates prepares the fast path for a built-in kind; nil if its schema
// cannot be found, which leaves every update to the library.
func newOwnedUpdates(tc *typeConverter, info *resources.Info) *ownedUpdates {
	gvk := info.StorageGVK()
	t, err := tc.parsed(gvk)
	if err != nil {
		return nil
	}
	return &ownedUpdates{schema: t.schema, typeRef: t.typeRef, apiVersion: gvk.GroupVersion().String(), filters: resetFields(info)}
}

// trackUpdate records obj's managed fields as an update of cur by manager.
// Subresources without a field manager of their own (resize, ephemeral
// containers) are recorded as the main resource's updates, as the library does.
func (ep *endpoint) trackUpdate(cur, obj runtime.Object, subresource, manager string) runtime.Object {
	mgr := ep.managers[subresource]
	if mgr == nil {
		subresource, mgr = "", ep.managers[""]
	}
	if ep.owned != nil {
		if entries, ok := ep.owned.update(cur, obj, manager, subresource, time.Now()); ok {
			m, _ := meta.Accessor(obj)
			m.SetManagedFields(entries)
			return obj
		}
	}
	return mgr.UpdateNoErrors(cur, obj, manager)
}

// maxUpdateManagers is the library's cap on update entries
// (internal.DefaultMaxUpdateManagers); past it the library merges entries.
const maxUpdateManagers = 10

// stripped are the paths the library never records an update as owning.
var stripped = fieldpath.NewSet(
	fieldpath.MakePathOrDie("apiVersion"), fieldpath.MakePathOrDie("kind"), fieldpath.MakePathOrDie("metadata"),
	fieldpath.MakePathOrDie("metadata", "name"), fieldpath.MakePathOrDie("metadata", "namespace"),
	fieldpath.MakePathOrDie("metadata", "creationTimestamp"), fieldpath.MakePathOrDie("metadata", "selfLink"),
	fieldpath.MakePathOrDie("metadata", "uid"), fieldpath.MakePathOrDie("metadata", "clusterName"),
	fieldpath.MakePathOrDie("metadata", "generation"), fieldpath.MakePathOrDie("metadata", "managedFields"),
	fieldpath.MakePathOrDie("metadata", "resourceVersion"),
)

var managedFieldsPath = fieldpath.MakePathOrDie("metadata", "managedFields")

// update returns the managed fields the library would give obj, an update of
// live by manager through subresource, and whether it could tell.
func (o *ownedUpdates) update(live, obj runtime.Object, manager, subresource string, now time.Time) ([]metav1.ManagedFieldsEntry, bool) {
	filter, tracked := o.filters[subresource]
	if !tracked || manager == "" || reflect.TypeOf(live) != reflect.TypeOf(obj) {
		return nil, false
	}
	lm, err := meta.Accessor(live)
	if err != nil {
		return nil, false
	}
	om, err := meta.Accessor(obj)
	if err != nil {
		return nil, false
	}
	entries := lm.GetManagedFields()
	// The main resource takes the client's managed fields when it sends any; a
	// client that echoes back what it read sends the stored ones.
	if sent := om.GetManagedFields(); subresource == "" && sent != nil && !reflect.DeepEqual(sent, entries) {
		return nil, false
	}
	sets, mine, ok := o.decode(entries, manager, subresource, live)
	if !ok {
		return nil, false
	}
	changed, ok := o.diff(reflect.ValueOf(live).Elem(), reflect.ValueOf(obj).Elem())
	if !ok {
		return nil, false
	}
	// What the subresource's filter leaves out, the library neither takes nor
	// gives. Of the rest it takes what it changed from every other owner, keeps
	// for the manager what is not metadata it never records, and moves the
	// manager's time if that is anything.
	if filter != nil {
		changed = filter.Filter(changed)
	}
	untracked := changed.Intersection(stripped)
	own := changed.Difference(stripped)
	for i, s := range sets {
		if !s.Intersection(untracked).Empty() || i != mine && !s.Intersection(own).Empty() {
			return nil, false
		}
	}
	out := append([]metav1.ManagedFieldsEntry(nil), entries...)
	if !own.Empty() {
		if mine < 0 || !own.Difference(sets[mine]).Empty() {
			return nil, false
		}
		out[mine].Time = &metav1.Time{Time: now.UTC()}
	}
	sortEntries(out) // the library encodes them again, sorted
	return out, true
}

// decode reads every entry's field set, and finds the one of manager's updates
// through subresource (-1: none). It declines what the library would not keep
// as it is: entries in another version, beyond the cap or naming one owner
// twice, sets it would reconcile with the schema or encode differently, and any
// that owns managedFields itself.
func (o *ownedUpdates) decode(entries []metav1.ManagedFieldsEntry, manager, subresource string, live runtime.Object) ([]*fieldpath.Set, int, bool) {
	if len(entries) == 0 {
		return nil, 0, false
	}
	lv, err := value.NewValueReflect(live)
	if err != nil {
		return nil, 0, false
	}
	tv := smdtyped.AsTypedUnvalidated(lv, o.schema, o.typeRef)
	sets := make([]*fieldpath.Set, len(entries))
	mine, updates := -1, 0
	owners := make(map[metav1.ManagedFieldsEntry]bool, len(entries))
	for i, e := range entries {
		owner := metav1.ManagedFieldsEntry{Manager: e.Manager, Operation: e.Operation, Subresource: e.Subresource}
		if owners[owner] {
			return nil, 0, false
		}
		owners[owner] = true
		switch {
		case e.APIVersion != o.apiVersion || e.FieldsType != "FieldsV1" || e.FieldsV1 == nil:
			return nil, 0, false
		case e.Operation == metav1.ManagedFieldsOperationUpdate:
			updates++
			if e.Manager == manager && e.Subresource == subresource {
				mine = i
			}
		case e.Operation != metav1.ManagedFieldsOperationApply:
			return nil, 0, false
		}
		s := &fieldpath.Set{}
		if err := s.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
			return nil, 0, false
		}
		if again, err := s.ToJSON(); err != nil || !bytes.Equal(again, e.FieldsV1.Raw) {
			return nil, 0, false
		}
		if r, err := smdtyped.ReconcileFieldSetWithSchema(s, tv); err != nil || r != nil {
			return nil, 0, false
		}
		if s.Has(managedFieldsPath) || !s.WithPrefix(managedFieldsPath[0]).WithPrefix(managedFieldsPath[1]).Empty() {
			return nil, 0, false
		}
		sets[i] = s
	}
	return sets, mine, updates <= maxUpdateManagers
}

// sortEntries orders managed fields entries as the library encodes them.
func sortEntries(entries []metav1.ManagedFieldsEntry) {
	seconds := func(t *metav1.Time) int64 {
		if t == nil {
			return 0
		}
		return t.Unix()
	}
	sort.Slice(entries, func(i, j int) bool {
		p, q := entries[i], entries[j]
		switch {
		case p.Operation != q.Operation:
			return p.Operation < q.Operation
		case seconds(p.Time) != seconds(q.Time):
			return seconds(p.Time) < seconds(q.Time)
		case p.Manager != q.Manager:
			return p.Manager < q.Manager
		case p.APIVersion != q.APIVersion:
			return p.APIVersion < q.APIVersion
		}
		return p.Subresource < q.Subresource
	})
}

// diff returns the leaf fields whose values differ between a and b, two objects
// of one kind, as the library's compare would report them modified; false when
// some difference is not a modified leaf it can name (a field added or removed,
// a list whose items moved, a granular map or set).
func (o *ownedUpdates) diff(a, b reflect.Value) (*fieldpath.Set, bool) {
	w := differ{schema: o.schema, changed: &fieldpath.Set{}}
	if !w.object(nil, o.typeRef, a, b) {
		return nil, false
	}
	return w.changed, true
}

type differ struct {
	schema  *smdschema.Schema
	changed *fieldpath.Set
}

// object compares two structs (or pointers to them) that the schema types tr.
func (w *differ) object(path fieldpath.Path, tr smdschema.TypeRef, a, b reflect.Value) bool {
	atom, ok := w.schema.Resolve(tr)
	if !ok || atom.Map == nil || atom.Map.ElementRelationship == smdschema.Atomic {
		return false
	}
	for a.Kind() == reflect.Pointer {
		if a.IsNil() || b.IsNil() {
			return false
		}
		a, b = a.Elem(), b.Elem()
	}
	if a.Kind() != reflect.Struct {
		return false // a granular map
	}
	for _, f := range value.TypeReflectEntryOf(a.Type()).OrderedFields() {
		fa, fb := f.GetFrom(a), f.GetFrom(b)
		omitA, omitB := f.CanOmit(fa), f.CanOmit(fb)
		switch {
		case omitA && omitB:
			continue
		case omitA != omitB:
			return false // added or removed
		case len(path) == 1 && *path[0].FieldName == "metadata" && f.JsonName == "managedFields":
			continue // recorded apart: every set was checked not to hold it
		case equal(fa, fb):
			continue
		}
		sf, ok := atom.Map.FindField(f.JsonName)
		if !ok {
			return false
		}
		name := f.JsonName
		if !w.field(append(path[:len(path):len(path)], fieldpath.PathElement{FieldName: &name}), sf.Type, fa, fb) {
			return false
		}
	}
	return true
}

// field compares two present values that differ.
func (w *differ) field(path fieldpath.Path, tr smdschema.TypeRef, a, b reflect.Value) bool {
	atom, ok := w.schema.Resolve(tr)
	switch {
	case !ok || kinds(atom) != 1:
		return false // unknown, or untyped: the library deduces it from the value
	case atom.Scalar != nil,
		atom.List != nil && atom.List.ElementRelationship == smdschema.Atomic,
		atom.Map != nil && atom.Map.ElementRelationship == smdschema.Atomic:
		return w.leaf(path, a, b)
	case atom.Map != nil:
		return w.object(path, tr, a, b)
	case atom.List != nil && atom.List.ElementRelationship == smdschema.Associative && len(atom.List.Keys) > 0:
		return w.list(path, atom.List, a, b)
	}
	return false
}

func kinds(a smdschema.Atom) int {
	n := 0
	for _, set := range []bool{a.Scalar != nil, a.List != nil, a.Map != nil} {
		if set {
			n++
		}
	}
	return n
}

// leaf records a field the library treats as one value, when its two values
// differ as the library compares them.
func (w *differ) leaf(path fieldpath.Path, a, b reflect.Value) bool {
	va, ok := reflected(a)
	if !ok {
		return false
	}
	vb, ok := reflected(b)
	if !ok {
		return false
	}
	if !value.Equals(va, vb) {
		w.changed.Insert(path)
	}
	return true
}

// reflected is the library's view of a field's value: it reflects on a pointer
// field as it is, and on any other through its address.
func reflected(v reflect.Value) (value.Value, bool) {
	var p any
	switch {
	case v.Kind() == reflect.Pointer:
		p = v.Interface()
	case v.CanAddr():
		p = v.Addr().Interface()
	default:
		return nil, false
	}
	out, err := value.NewValueReflect(p)
	return out, err == nil
}

// list compares two lists of items keyed by fields, item by item, when both hold
// the same keys in the same order, each once.
func (w *differ) list(path fieldpath.Path, l *smdschema.List, a, b reflect.Value) bool {
	if a.Kind() != reflect.Slice || a.Len() != b.Len() || a.Len() == 0 {
		return false
	}
	seen := make(map[string]bool, a.Len())
	for i := 0; i < a.Len(); i++ {
		ea, eb := a.Index(i), b.Index(i)
		ka, ok := itemKey(l.Keys, ea)
		if !ok {
			return false
		}
		if kb, ok := itemKey(l.Keys, eb); !ok || !ka.Equals(kb) {
			return false
		}
		pe := fieldpath.PathElement{Key: &ka}
		if s := pe.String(); seen[s] {
			return false // duplicates: the library compares those as a whole
		} else {
			seen[s] = true
		}
		if equal(ea, eb) {
			continue
		}
		if !w.object(append(path[:len(path):len(path)], pe), l.ElementType, ea, eb) {
			return false
		}
	}
	return true
}

// itemKey is the key of a list item: the values of its key fields, which must
// all be present strings or integers.
func itemKey(keys []string, item reflect.Value) (value.FieldList, bool) {
	if item.Kind() != reflect.Struct {
		return nil, false
	}
	fields := value.TypeReflectEntryOf(item.Type()).Fields()
	out := make(value.FieldList, 0, len(keys))
	for _, k := range keys {
		f, ok := fields[k]
		if !ok {
			return nil, false
		}
		v := f.GetFrom(item)
		if f.CanOmit(v) {
			return nil, false
		}
		switch v.Kind() {
		case reflect.String:
			out = append(out, value.Field{Name: k, Value: value.NewValueInterface(v.String())})
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			out = append(out, value.Field{Name: k, Value: value.NewValueInterface(v.Int())})
		default:
			return nil, false
		}
	}
	out.Sort()
	return out, true
}

// equal reports two values the same; through their addresses where it can, so
// that no struct is copied to compare it.
func equal(a, b reflect.Value) bool {
	if a.CanAddr() && b.CanAddr() {
		return reflect.DeepEqual(a.Addr().Interface(), b.Addr().Interface())
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
