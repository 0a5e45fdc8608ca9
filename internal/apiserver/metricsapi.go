package apiserver

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"skiff/internal/kubelet/stats"
	"skiff/internal/store"
)

// StatsSource gives a node's latest usage stats.
type StatsSource interface {
	Summary(r *http.Request, node string) (*stats.Summary, error)
}

// serveMetrics answers metrics.k8s.io: NodeMetrics and PodMetrics built on each read
// from the node agents' stats, as metrics-server would serve them. Objects without a
// usage sample yet (a node or pod sampled once) are left out of lists and are not
// found on get.
func (a *API) serveMetrics(w http.ResponseWriter, r *http.Request, q request, ep *endpoint) {
	if q.Verb != "get" && q.Verb != "list" {
		writeError(w, apierrors.NewMethodNotSupported(ep.GroupResource(), r.Method))
		return
	}
	if a.Stats == nil {
		writeError(w, apierrors.NewServiceUnavailable("resource metrics come from the node agents, which this server does not reach"))
		return
	}
	var items []runtime.Object
	var err error
	if q.Resource == "nodes" {
		items, err = a.nodeMetrics(r, q)
	} else {
		items, err = a.podMetrics(r, q)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if q.Verb == "get" {
		if len(items) == 0 {
			writeError(w, apierrors.NewNotFound(ep.GroupResource(), q.Name))
			return
		}
		a.respond(w, r, mustNegotiate(r), http.StatusOK, ep, items[0])
		return
	}
	a.respondList(w, r, ep, items)
}

func mustNegotiate(r *http.Request) output {
	out, _ := negotiate(r)
	return out
}

// respondList writes computed objects as a list (or a table).
func (a *API) respondList(w http.ResponseWriter, r *http.Request, ep *endpoint, items []runtime.Object) {
	out, err := negotiate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if out.as == "Table" {
		t, err := a.table(r, ep, items, r.URL.Query().Get("noHeaders") != "true")
		if err != nil {
			writeError(w, err)
			return
		}
		writeObject(w, out, http.StatusOK, metav1.SchemeGroupVersion, t)
		return
	}
	var list runtime.Object
	if ep.Resource == "nodes" {
		l := &metricsv1beta1.NodeMetricsList{}
		for _, o := range items {
			l.Items = append(l.Items, *o.(*metricsv1beta1.NodeMetrics))
		}
		list = l
	} else {
		l := &metricsv1beta1.PodMetricsList{}
		for _, o := range items {
			l.Items = append(l.Items, *o.(*metricsv1beta1.PodMetrics))
		}
		list = l
	}
	writeObject(w, out, http.StatusOK, ep.GroupVersion(), list)
}

// storedObjects reads nodes or pods as a get (one name) or a filtered list.
func (a *API) storedObjects(r *http.Request, resource string, q request) ([]runtime.Object, error) {
	ep := a.endpoints[corev1.SchemeGroupVersion.WithResource(resource)]
	if q.Name != "" {
		obj, err := ep.store.Get(r.Context(), q.Namespace, q.Name)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []runtime.Object{obj}, nil
	}
	filter, err := selection(r, ep)
	if err != nil {
		return nil, err
	}
	objs, _, _, err := ep.store.List(r.Context(), store.ListOptions{Namespace: q.Namespace, ResourceVersion: "0", Filter: filter})
	return objs, err
}

// summaries fetches the stats of the named nodes in parallel; nodes whose agent
// does not answer are logged and left out.
func (a *API) summaries(r *http.Request, nodes []string) map[string]*stats.Summary {
	out := make(map[string]*stats.Summary, len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := a.Stats.Summary(r, n)
			if err != nil {
				slog.Debug("no stats from node", "node", n, "err", err)
				return
			}
			mu.Lock()
			out[n] = s
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func (a *API) nodeMetrics(r *http.Request, q request) ([]runtime.Object, error) {
	objs, err := a.storedObjects(r, "nodes", q)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(objs))
	for _, o := range objs {
		names = append(names, o.(*corev1.Node).Name)
	}
	sums := a.summaries(r, names)
	var out []runtime.Object
	for _, o := range objs {
		node := o.(*corev1.Node)
		if s := sums[node.Name]; s != nil {
			if m := nodeMetricsOf(node, s, a.now()); m != nil {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

func (a *API) podMetrics(r *http.Request, q request) ([]runtime.Object, error) {
	objs, err := a.storedObjects(r, "pods", q)
	if err != nil {
		return nil, err
	}
	var names []string
	seen := map[string]bool{}
	for _, o := range objs {
		if n := o.(*corev1.Pod).Spec.NodeName; n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sums := a.summaries(r, names)
	byUID := map[string]*stats.PodStats{}
	for _, s := range sums {
		for i := range s.Pods {
			byUID[s.Pods[i].PodRef.UID] = &s.Pods[i]
		}
	}
	var out []runtime.Object
	for _, o := range objs {
		pod := o.(*corev1.Pod)
		if ps := byUID[string(pod.UID)]; ps != nil {
			if m := podMetricsOf(pod, ps, a.now()); m != nil {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// nodeMetricsOf is the node's usage, nil until the node has a CPU rate.
func nodeMetricsOf(node *corev1.Node, s *stats.Summary, now time.Time) *metricsv1beta1.NodeMetrics {
	cpu, mem := s.Node.CPU, s.Node.Memory
	if cpu == nil || cpu.UsageNanoCores == nil || mem == nil || mem.WorkingSetBytes == nil {
		return nil
	}
	return &metricsv1beta1.NodeMetrics{
		ObjectMeta: metav1.ObjectMeta{Name: node.Name, Labels: node.Labels, CreationTimestamp: metav1.NewTime(now)},
		Timestamp:  cpu.Time, Window: window(cpu),
		Usage: corev1.ResourceList{corev1.ResourceCPU: nanoCores(*cpu.UsageNanoCores), corev1.ResourceMemory: bytesQuantity(*mem.WorkingSetBytes)},
	}
}

// podMetricsOf is the pod's per-container usage, nil until every container has a
// CPU rate (a half-sampled pod would show too little).
func podMetricsOf(pod *corev1.Pod, ps *stats.PodStats, now time.Time) *metricsv1beta1.PodMetrics {
	if ps.CPU == nil || ps.CPU.UsageNanoCores == nil || len(ps.Containers) == 0 {
		return nil
	}
	m := &metricsv1beta1.PodMetrics{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, Labels: pod.Labels, CreationTimestamp: metav1.NewTime(now)},
		Timestamp:  ps.CPU.Time, Window: window(ps.CPU),
	}
	for _, c := range ps.Containers {
		var ws uint64
		if c.Memory != nil && c.Memory.WorkingSetBytes != nil {
			ws = *c.Memory.WorkingSetBytes
		}
		m.Containers = append(m.Containers, metricsv1beta1.ContainerMetrics{Name: c.Name,
			Usage: corev1.ResourceList{corev1.ResourceCPU: nanoCores(*c.CPU.UsageNanoCores), corev1.ResourceMemory: bytesQuantity(ws)}})
	}
	return m
}

func window(c *stats.CPUStats) metav1.Duration {
	if c.Window != nil {
		return *c.Window
	}
	return metav1.Duration{}
}

func nanoCores(n uint64) resource.Quantity {
	return *resource.NewScaledQuantity(int64(n), resource.Nano)
}

func bytesQuantity(b uint64) resource.Quantity {
	return *resource.NewQuantity(int64(b), resource.BinarySI)
}
