package apiserver

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/watch"
	utilflowcontrol "k8s.io/apiserver/pkg/util/flowcontrol"

	"skiff/internal/store"
)

func (a *API) get(w http.ResponseWriter, r *http.Request, q request, ep *endpoint) {
	out, err := negotiate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var obj runtime.Object
	if r.URL.Query().Get("resourceVersion") == "0" {
		if cached, ok := ep.store.Peek(q.Namespace, q.Name); ok {
			obj = cached
		}
	}
	if obj == nil {
		if obj, err = ep.store.Get(r.Context(), q.Namespace, q.Name); err != nil {
			writeError(w, err)
			return
		}
	}
	a.respond(w, r, out, http.StatusOK, ep, obj)
}

// respond writes one object in the served version, as a table or metadata when asked.
func (a *API) respond(w http.ResponseWriter, r *http.Request, out output, code int, ep *endpoint, obj runtime.Object) {
	served, err := toServed(ep, obj)
	if err != nil {
		writeError(w, err)
		return
	}
	a.auditResponseObject(r.Context(), served, ep.GroupVersion())
	switch out.as {
	case "Table":
		t, err := a.table(r, ep, []runtime.Object{obj}, true)
		if err != nil {
			writeError(w, err)
			return
		}
		writeObject(w, out, code, metav1.SchemeGroupVersion, t)
	case "PartialObjectMetadata":
		writeObject(w, out, code, metav1.SchemeGroupVersion, partial(obj))
	default:
		writeObject(w, out, code, ep.GroupVersion(), served)
	}
}

func partial(obj runtime.Object) *metav1.PartialObjectMetadata {
	p := &metav1.PartialObjectMetadata{}
	if u, ok := obj.(*unstructured.Unstructured); ok {
		p.ObjectMeta = unstructuredMeta(u)
		return p
	}
	if v := reflect.ValueOf(obj).Elem().FieldByName("ObjectMeta"); v.IsValid() {
		p.ObjectMeta = v.Interface().(metav1.ObjectMeta)
	}
	return p
}

// selection turns labelSelector and fieldSelector into a filter.
func selection(r *http.Request, ep *endpoint) (func(runtime.Object) bool, error) {
	qs := r.URL.Query()
	ls, err := labels.Parse(qs.Get("labelSelector"))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
	}
	fs, err := fields.ParseSelector(qs.Get("fieldSelector"))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err))
	}
	if !fs.Empty() {
		gvk := ep.StorageGVK()
		if ep.custom != nil {
			gvk = ep.GVK() // the served version's fields, with nothing to convert
		}
		empty, _ := ep.newObject(gvk)
		known := ep.Strategy.Fields(empty)
		for _, req := range fs.Requirements() {
			if _, ok := known[req.Field]; !ok {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
			}
		}
	}
	if ls.Empty() && fs.Empty() {
		return nil, nil
	}
	return func(obj runtime.Object) bool {
		if !ls.Empty() {
			m, err := meta.Accessor(obj)
			if err != nil || !ls.Matches(labels.Set(m.GetLabels())) {
				return false
			}
		}
		return fs.Empty() || fs.Matches(ep.Strategy.Fields(obj))
	}, nil
}

func (a *API) list(w http.ResponseWriter, r *http.Request, q request, ep *endpoint) {
	out, err := negotiate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	filter, err := selection(r, ep)
	if err != nil {
		writeError(w, err)
		return
	}
	qs := r.URL.Query()
	limit, err := parseLimit(qs.Get("limit"))
	if err != nil {
		writeError(w, err)
		return
	}
	remaining := int64(-1)
	opts := store.ListOptions{
		Namespace: q.Namespace, ResourceVersion: qs.Get("resourceVersion"),
		Limit: limit, Continue: qs.Get("continue"), Filter: filter, Remaining: &remaining,
	}
	if encodedListable(out, ep) {
		a.listEncoded(w, r, ep, opts)
		return
	}
	if out.as == "Table" && ep.custom == nil && ep.store.Protobuf() {
		a.listTable(w, r, out, ep, opts)
		return
	}
	objs, rev, cont, err := ep.store.List(r.Context(), opts)
	if err != nil {
		writeError(w, err)
		return
	}
	listMeta := listMetaOf(rev, cont, remaining)
	switch out.as {
	case "Table":
		t, err := a.table(r, ep, objs, qs.Get("noHeaders") != "true")
		if err != nil {
			writeError(w, err)
			return
		}
		t.ListMeta = listMeta
		writeObject(w, out, http.StatusOK, metav1.SchemeGroupVersion, t)
		return
	case "PartialObjectMetadataList":
		l := &metav1.PartialObjectMetadataList{ListMeta: listMeta}
		for _, o := range objs {
			l.Items = append(l.Items, *partial(o))
		}
		writeObject(w, out, http.StatusOK, metav1.SchemeGroupVersion, l)
		return
	}
	list, err := ep.newList()
	if err != nil {
		writeError(w, err)
		return
	}
	items, err := toServedList(ep, objs)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := meta.SetList(list, items); err != nil {
		writeError(w, err)
		return
	}
	lm, _ := meta.ListAccessor(list)
	lm.SetResourceVersion(listMeta.ResourceVersion)
	lm.SetContinue(cont)
	lm.SetRemainingItemCount(listMeta.RemainingItemCount)
	writeObject(w, out, http.StatusOK, ep.GroupVersion(), list)
}

// listMetaOf is a list's metadata; remaining < 0 leaves its count unsaid.
func listMetaOf(rev int64, cont string, remaining int64) metav1.ListMeta {
	lm := metav1.ListMeta{ResourceVersion: strconv.FormatInt(rev, 10), Continue: cont}
	if remaining >= 0 {
		lm.RemainingItemCount = &remaining
	}
	return lm
}

func (a *API) watch(w http.ResponseWriter, r *http.Request, q request, ep *endpoint) {
	out, err := negotiate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	filter, err := selection(r, ep)
	if err != nil {
		writeError(w, err)
		return
	}
	qs := r.URL.Query()
	initialEvents := qs.Get("sendInitialEvents") == "true"
	watcher, err := ep.store.Watch(r.Context(), store.WatchOptions{
		Namespace: q.Namespace, ResourceVersion: qs.Get("resourceVersion"),
		InitialEvents: initialEvents, Filter: filter,
	})
	if err != nil {
		writeError(w, err)
		return
	}
	defer watcher.Stop()
	// Like Kubernetes, end watches after a while so load spreads across servers.
	timeout := time.Duration(1800+rand.IntN(1800)) * time.Second
	if s, err := strconv.Atoi(qs.Get("timeoutSeconds")); err == nil && s > 0 {
		timeout = time.Duration(s) * time.Second
	}
	ws := &watchStream{api: a, r: r, ep: ep, out: out, w: w, headers: true}
	ws.start()
	for ev := range watcher.Backlog() {
		if ws.send(ev) != nil {
			return
		}
	}
	ws.flush()
	if initialEvents {
		if ws.bookmark(watcher.Rev, true) != nil {
			return
		}
		ws.flush()
	}
	// Priority and fairness holds a watch's seats only until it has started.
	utilflowcontrol.WatchInitialized(r.Context())
	bookmarks := qs.Get("allowWatchBookmarks") == "true"
	ticker := time.NewTicker(time.Minute)
	defer ticker.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case <-watcher.Ready():
			evs, open := watcher.Take()
			for _, ev := range evs {
				if ws.send(ev) != nil {
					return
				}
			}
			// Under a burst of writes, flush once per batch rather than per event:
			// each flush is a TLS record and a syscall.
			ws.flush()
			if !open {
				return
			}
		case <-ticker.C:
			if bookmarks && ws.bookmark(a.store.Revision(), false) != nil {
				return
			}
			ws.flush()
		case <-deadline.C:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// watchStream writes watch events in the negotiated framing.
type watchStream struct {
	api     *API
	r       *http.Request
	ep      *endpoint
	out     output
	w       http.ResponseWriter
	buf     *burstWriter
	enc     streaming.Encoder
	headers bool // tables: column definitions go with the first event only
}

// watchBufferSize is how much of a burst of events goes to the connection at a
// time. Over HTTP/2 every write a handler makes waits for the connection's one
// frame-writing goroutine, and net/http hands it 4 KiB at a time; a burst in
// one write keeps a watch from falling behind when that goroutine is busy with
// many other streams on the same connection.
const watchBufferSize = 64 << 10

// watchBuffers are lent to watches for a burst and given back at its flush: a
// server has a hundred watches open before anyone uses it, and an idle watch
// should not hold 64 KiB.
var watchBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, watchBufferSize) }}

// burstWriter buffers what is written between two flushes in a borrowed buffer.
type burstWriter struct {
	w   io.Writer
	buf *bufio.Writer
}

func (b *burstWriter) Write(p []byte) (int, error) {
	if b.buf == nil {
		b.buf = watchBuffers.Get().(*bufio.Writer)
		b.buf.Reset(b.w)
	}
	return b.buf.Write(p)
}

// Flush writes what is buffered and gives the buffer back.
func (b *burstWriter) Flush() error {
	if b.buf == nil {
		return nil
	}
	err := b.buf.Flush()
	b.buf.Reset(nil)
	watchBuffers.Put(b.buf)
	b.buf = nil
	return err
}

func (s *watchStream) start() {
	ss := s.out.info.StreamSerializer
	ct := s.out.info.MediaType
	if ct == "application/vnd.kubernetes.protobuf" {
		ct += ";stream=watch"
	}
	if s.out.as != "" {
		ct = fmt.Sprintf("%s;as=%s;g=meta.k8s.io;v=v1", s.out.info.MediaType, s.out.as)
	}
	s.w.Header().Set("Content-Type", ct)
	s.w.Header().Set("Transfer-Encoding", "chunked")
	s.w.WriteHeader(http.StatusOK)
	s.buf = &burstWriter{w: s.w}
	s.enc = streaming.NewEncoder(ss.Framer.NewFrameWriter(s.buf), ss.Serializer)
	s.flush()
}

func (s *watchStream) flush() {
	if s.buf.Flush() != nil {
		return
	}
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *watchStream) send(ev store.Event) error {
	obj := ev.Obj
	if ev.Type == watch.Deleted {
		obj = ev.Prev
	}
	var gvObj runtime.Object
	var err error
	gv := s.ep.GroupVersion()
	switch s.out.as {
	case "Table":
		var t *metav1.Table
		t, err = s.api.table(s.r, s.ep, []runtime.Object{obj}, s.headers)
		s.headers = false
		gvObj, gv = t, metav1.SchemeGroupVersion
	case "PartialObjectMetadata":
		gvObj, gv = partial(obj), metav1.SchemeGroupVersion
	default:
		// Plain objects are encoded once per event and format, for every watcher.
		data, err := ev.Encoded(s.out.info.MediaType+" "+gv.String(), func() ([]byte, error) {
			served, err := toServed(s.ep, obj)
			if err != nil {
				return nil, err
			}
			return encode(s.out, gv, served)
		})
		if err != nil {
			return err
		}
		return s.writeRaw(ev.Type, data)
	}
	if err != nil {
		return err
	}
	return s.write(ev.Type, gv, gvObj)
}

// write sends one event; the caller flushes.
func (s *watchStream) write(typ watch.EventType, gv schema.GroupVersion, obj runtime.Object) error {
	data, err := encode(s.out, gv, obj)
	if err != nil {
		return err
	}
	return s.writeRaw(typ, data)
}

func (s *watchStream) writeRaw(typ watch.EventType, data []byte) error {
	return s.enc.Encode(&metav1.WatchEvent{Type: string(typ), Object: runtime.RawExtension{Raw: data}})
}

// bookmark tells the client how far it is, with no object change, in the form its
// other events take (tables carry no bookmarks).
func (s *watchStream) bookmark(rev int64, initialEnd bool) error {
	gv := s.ep.GroupVersion()
	var obj runtime.Object
	switch s.out.as {
	case "Table":
		return nil
	case "PartialObjectMetadata":
		obj, gv = &metav1.PartialObjectMetadata{}, metav1.SchemeGroupVersion
	default:
		var err error
		if obj, err = s.ep.newObject(s.ep.GVK()); err != nil {
			return err
		}
	}
	m, _ := meta.Accessor(obj)
	m.SetResourceVersion(strconv.FormatInt(rev, 10))
	if initialEnd {
		m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
	}
	return s.write(watch.Bookmark, gv, obj)
}

// parseLimit reads ?limit=; absent is 0 (no limit), anything but an integer is
// the client's mistake.
func parseLimit(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid value for limit: %q is not an integer", v))
	}
	return n, nil
}
