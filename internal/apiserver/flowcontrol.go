package apiserver

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
	serverfilters "k8s.io/apiserver/pkg/server/filters"
	"k8s.io/apiserver/pkg/storage"
	utilflowcontrol "k8s.io/apiserver/pkg/util/flowcontrol"
	fcmetrics "k8s.io/apiserver/pkg/util/flowcontrol/metrics"
	fcrequest "k8s.io/apiserver/pkg/util/flowcontrol/request"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/component-base/metrics/legacyregistry"

	"skiff/internal/auth"
)

// API Priority and Fairness is k8s.io/apiserver's: its config controller digests
// the FlowSchemas and PriorityLevelConfigurations into queue sets (and writes the
// FlowSchemas' Dangling conditions), and its filter classifies every request once
// it is authenticated and impersonated, as in kube-apiserver, then runs it, queues
// it or rejects it with 429. Skiff's part is what the generic server would give
// the filter: the request info and user in the context, the objects' counts and
// sizes for the work estimate, the signal that a watch has started (a watch holds
// its seats only until then), and the bootstrap configuration (flowcontrol_bootstrap.go).

// Kubernetes' defaults for --max-requests-inflight and --max-mutating-requests-inflight,
// whose sum is the server's concurrency limit that priority levels share.
const (
	DefaultMaxRequestsInflight         = 400
	DefaultMaxMutatingRequestsInflight = 200
)

// requestWaitLimit is how long a request without a deadline may wait in a queue:
// a quarter of kube-apiserver's default request timeout, as there.
const requestWaitLimit = 15 * time.Second

// longRunningCheck is kube-apiserver's: watches and proxying by verb, exec, attach,
// port-forward, proxy and logs by subresource. The filter classifies watches and
// holds their seats until they start; the others it lets through unclassified.
var longRunningCheck = serverfilters.BasicLongRunningRequestCheck(sets.NewString("watch", "proxy"),
	sets.NewString("attach", "exec", "proxy", "log", "portforward"))

type flowControl struct {
	ctl       utilflowcontrol.Interface
	informers informers.SharedInformerFactory
	client    kubernetes.Interface
	infos     *genericrequest.RequestInfoFactory
	filter    http.Handler
}

// EnableFlowControl puts API Priority and Fairness in front of every request after
// authentication, with serverLimit seats shared by the priority levels; client
// (an exempt, system:masters identity) reads the configuration and writes its
// status and the bootstrap objects. The server's Run starts it.
func (a *API) EnableFlowControl(client kubernetes.Interface, serverLimit int) {
	// The library's series live in component-base's global registry; /metrics
	// shows them beside the server's own.
	fcmetrics.Register()
	a.Extra["/metrics"] = promhttp.HandlerFor(prometheus.Gatherers{a.metrics.Registry, flowControlSeries{}}, promhttp.HandlerOpts{})
	a.flow = newFlowControl(client, serverLimit, a.objectStats, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.serveClassified(w, r, auth.UserFrom(r.Context()))
	}))
}

// newFlowControl builds the controller and the filter in front of next; stats
// gives the number and size of a resource's objects.
func newFlowControl(client kubernetes.Interface, serverLimit int, stats func(string) (storage.Stats, error), next http.Handler) *flowControl {
	f := &flowControl{client: client, informers: informers.NewSharedInformerFactory(client, 0),
		infos: &genericrequest.RequestInfoFactory{APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api")}}
	f.ctl = utilflowcontrol.New(f.informers, client.FlowcontrolV1(), serverLimit)
	estimate := fcrequest.NewWorkEstimator(stats, f.ctl.GetInterestedWatchCount, fcrequest.DefaultWorkEstimatorConfig(), f.ctl.GetMaxSeats)
	f.filter = serverfilters.WithPriorityAndFairness(next, longRunningCheck, f.ctl, estimate, requestWaitLimit)
	return f
}

// run keeps the bootstrap configuration in place and runs the config
// controller until ctx ends.
func (f *flowControl) run(ctx context.Context) {
	go ensureBootstrapConfig(ctx, f.client.FlowcontrolV1())
	f.informers.Start(ctx.Done())
	serverfilters.StartPriorityAndFairnessWatermarkMaintenance(ctx.Done())
	if err := f.ctl.Run(ctx.Done()); err != nil {
		slog.Error("priority and fairness: config controller stopped", "err", err)
	}
}

// serve classifies r (whose user is known and impersonation applied) and serves it
// when its priority level has a seat for it.
func (f *flowControl) serve(w http.ResponseWriter, r *http.Request, user *auth.User) {
	ctx := r.Context()
	if _, ok := genericrequest.RequestInfoFrom(ctx); !ok {
		info, err := f.infos.NewRequestInfo(r)
		if err != nil {
			info = &genericrequest.RequestInfo{Path: r.URL.Path, Verb: strings.ToLower(r.Method)}
		}
		ctx = genericrequest.WithRequestInfo(ctx, info)
	}
	ctx = genericrequest.WithUser(ctx, userInfo(user))
	f.filter.ServeHTTP(w, r.WithContext(ctx))
}

// objectStats gives the list work estimator the number of objects of a resource
// and their average size.
func (a *API) objectStats(resource string) (storage.Stats, error) {
	gr := schema.ParseGroupResource(resource)
	ep := a.storedEndpoint(gr)
	if ep == nil {
		ep = a.custom.storageEndpoint(gr)
	}
	if ep == nil || ep.store == nil {
		return storage.Stats{}, fcrequest.ObjectCountNotFoundErr
	}
	n, avg := ep.store.Stats()
	return storage.Stats{ObjectCount: n, EstimatedAverageObjectSizeBytes: avg}, nil
}

// enableFlowControl gives priority and fairness its client (exempt, as the
// system:masters group is) and the server's concurrency limit.
func (s *Server) enableFlowControl() error {
	rc, err := s.ClientConfig("skiff-flowcontrol", "system:apiserver", []string{auth.Masters})
	if err != nil {
		return err
	}
	rc.QPS, rc.Burst = 50, 100
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	s.API.EnableFlowControl(client, serverConcurrencyLimit(s.cfg))
	return nil
}

// serverConcurrencyLimit is the sum of the in-flight limits, as kube-apiserver
// sizes priority and fairness.
func serverConcurrencyLimit(cfg Config) int {
	read, mutating := cfg.MaxRequestsInflight, cfg.MaxMutatingRequestsInflight
	if read <= 0 {
		read = DefaultMaxRequestsInflight
	}
	if mutating <= 0 {
		mutating = DefaultMaxMutatingRequestsInflight
	}
	return read + mutating
}

// flowControlSeries gathers the apiserver_flowcontrol_* series from the global
// registry, which also holds Go and process series that the server's own registry
// already has.
type flowControlSeries struct{}

func (flowControlSeries) Gather() ([]*dto.MetricFamily, error) {
	all, err := legacyregistry.DefaultGatherer.Gather()
	out := all[:0]
	for _, mf := range all {
		if strings.HasPrefix(mf.GetName(), "apiserver_flowcontrol_") {
			out = append(out, mf)
		}
	}
	return out, err
}
