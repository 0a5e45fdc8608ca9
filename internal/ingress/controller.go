// Package ingress is skiff's ingress controller: every node agent runs one, serving
// the Ingresses of the "skiff" class (the default class) on the node's HTTP and
// HTTPS ports, and reverse-proxying straight to the ready endpoints of each
// backend Service.
package ingress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httputil"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
)

const (
	// ControllerName is the spec.controller of the IngressClasses this controller
	// serves.
	ControllerName = "skiff.io/ingress"
	// DefaultClassAnnotation marks the IngressClass used by Ingresses naming none.
	DefaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"
	// legacyClassAnnotation is how Ingresses chose a class before ingressClassName.
	legacyClassAnnotation = "kubernetes.io/ingress.class"

	indexSliceService = "skiff-ingress/service"
	resyncEvery       = 30 * time.Second
	// debounce gathers a burst of changes (a rollout touches many slices) into
	// one rebuild.
	debounce = 50 * time.Millisecond
)

// Config configures a Controller.
type Config struct {
	// HTTPAddrs and HTTPSAddrs are listen addresses ("host:port"); empty disables
	// that protocol. Port 0 picks a free port (see Addrs).
	HTTPAddrs, HTTPSAddrs []string
	// ClassName is the IngressClass to serve and create, "skiff" by default.
	ClassName string
	// NodeName is this node, always included in status addresses.
	NodeName string
}

// Controller watches Ingresses and serves them.
type Controller struct {
	cfg     Config
	client  kubernetes.Interface
	log     *slog.Logger
	metrics *metrics

	ingresses networkinglisters.IngressLister
	classes   networkinglisters.IngressClassLister
	services  corelisters.ServiceLister
	sliceIdx  cache.Indexer
	secrets   corelisters.SecretLister
	nodes     corelisters.NodeLister
	synced    []cache.InformerSynced

	table       atomic.Pointer[table]
	proxy       *httputil.ReverseProxy
	defaultCert *tls.Certificate
	certs       *certCache // used by the sync goroutine only
	problems    string     // last reported, to log only changes
	kick        chan struct{}

	mu    sync.Mutex
	addrs map[string][]string // "http", "https" → bound addresses
	ready chan struct{}
}

// New builds a controller over the factory's informers; the caller starts the
// factory. client writes the IngressClass and Ingress status.
func New(client kubernetes.Interface, f informers.SharedInformerFactory, cfg Config) (*Controller, error) {
	if cfg.ClassName == "" {
		cfg.ClassName = "skiff"
	}
	if len(cfg.HTTPAddrs)+len(cfg.HTTPSAddrs) == 0 {
		return nil, errNoListeners
	}
	cert, err := selfSigned("skiff-ingress-default")
	if err != nil {
		return nil, fmt.Errorf("ingress: default certificate: %w", err)
	}
	c := &Controller{
		cfg: cfg, client: client, metrics: newMetrics(),
		log:         slog.Default().With("component", "ingress"),
		defaultCert: cert, certs: newCertCache(),
		kick:  make(chan struct{}, 1),
		addrs: map[string][]string{}, ready: make(chan struct{}),
	}
	c.proxy = newReverseProxy(c.log)
	c.table.Store(newTable())
	if err := c.watch(f); err != nil {
		return nil, err
	}
	return c, nil
}

// watch registers the informers and the events that trigger a rebuild.
func (c *Controller) watch(f informers.SharedInformerFactory) error {
	ing := f.Networking().V1().Ingresses()
	cls := f.Networking().V1().IngressClasses()
	svc := f.Core().V1().Services()
	eps := f.Discovery().V1().EndpointSlices()
	// Only kubernetes.io/tls Secrets: a node may list no others (the node authorizer).
	secInf := f.InformerFor(&corev1.Secret{}, func(cs kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
		return coreinformers.NewFilteredSecretInformer(cs, metav1.NamespaceAll, resync,
			cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}, func(o *metav1.ListOptions) {
				o.FieldSelector = "type=" + string(corev1.SecretTypeTLS)
			})
	})
	nodes := f.Core().V1().Nodes()
	if _, ok := eps.Informer().GetIndexer().GetIndexers()[indexSliceService]; !ok {
		if err := eps.Informer().AddIndexers(cache.Indexers{indexSliceService: sliceService}); err != nil {
			return fmt.Errorf("ingress: index endpoint slices: %w", err)
		}
	}
	c.ingresses, c.classes, c.services = ing.Lister(), cls.Lister(), svc.Lister()
	c.sliceIdx, c.secrets, c.nodes = eps.Informer().GetIndexer(), corelisters.NewSecretLister(secInf.GetIndexer()), nodes.Lister()
	all := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.trigger() },
		UpdateFunc: func(any, any) { c.trigger() },
		DeleteFunc: func(any) { c.trigger() },
	}
	for _, inf := range []cache.SharedIndexInformer{ing.Informer(), cls.Informer(), svc.Informer(), eps.Informer()} {
		if _, err := inf.AddEventHandler(all); err != nil {
			return err
		}
		c.synced = append(c.synced, inf.HasSynced)
	}
	// Secrets and Nodes change often for reasons of no interest here (tokens,
	// heartbeats): rebuild only for TLS material and node addresses.
	if _, err := secInf.AddEventHandler(filtered(isTLSSecret, c.trigger)); err != nil {
		return err
	}
	if _, err := nodes.Informer().AddEventHandler(nodeHandler(c.trigger)); err != nil {
		return err
	}
	c.synced = append(c.synced, secInf.HasSynced, nodes.Informer().HasSynced)
	return nil
}

func (c *Controller) trigger() {
	select {
	case c.kick <- struct{}{}:
	default: // a rebuild is already pending; it will see this change too
	}
}

// Run ensures the IngressClass, waits for the caches, serves the listeners and
// rebuilds the routing table on every change until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	classErr := c.ensureClass(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil // stopped before the caches synced: a clean stop all the same
	}
	c.sync(ctx) // route correctly from the first request
	servers, err := c.listen()
	if err != nil {
		return err
	}
	close(c.ready)
	c.log.Info("serving ingress", "class", c.cfg.ClassName, "http", c.Addrs("http"), "https", c.Addrs("https"))
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.serve() }()
	}
	err = c.loop(ctx, errc, classErr)
	shutdown(ctx, servers)
	return err
}

func (c *Controller) loop(ctx context.Context, errc <-chan error, classErr error) error {
	tick := time.NewTicker(resyncEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return fmt.Errorf("ingress: serve: %w", err)
		case <-tick.C:
			if classErr != nil {
				classErr = c.ensureClass(ctx)
			}
		case <-c.kick:
			time.Sleep(debounce)
		}
		c.sync(ctx)
	}
}

// sync builds a new table from the caches and swaps it in, then reports status.
func (c *Controller) sync(ctx context.Context) {
	all, err := c.ingresses.List(labels.Everything())
	if err != nil {
		c.log.Error("list ingresses", "err", err)
		return
	}
	var ours []*networkingv1.Ingress
	for _, ing := range all {
		if c.serves(ing) {
			ours = append(ours, ing)
		}
	}
	t := buildTable(ours, c, c.certs)
	c.certs.sweep()
	c.table.Store(t)
	c.metrics.syncs.Inc()
	if p := strings.Join(t.problems, "; "); p != c.problems {
		c.problems = p
		if p != "" {
			c.log.Warn("ingress configuration problems", "problems", t.problems)
		}
	}
	c.updateStatus(ctx, ours)
}

// serves says whether an Ingress belongs to this controller: its class is ours (by
// name, or any class whose controller is skiff's), or it names no class and ours
// is the default.
func (c *Controller) serves(ing *networkingv1.Ingress) bool {
	if name := ing.Spec.IngressClassName; name != nil {
		if *name == c.cfg.ClassName {
			return true
		}
		cls, err := c.classes.Get(*name)
		return err == nil && cls.Spec.Controller == ControllerName
	}
	if a, ok := ing.Annotations[legacyClassAnnotation]; ok {
		return a == c.cfg.ClassName
	}
	cls, err := c.classes.Get(c.cfg.ClassName)
	if err != nil {
		return true // not created yet; it will be, as the default
	}
	return cls.Annotations[DefaultClassAnnotation] == "true"
}

// ensureClass creates the IngressClass if it is missing. An existing one is left
// as the administrator set it (they may have made another class the default).
func (c *Controller) ensureClass(ctx context.Context) error {
	want := &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: c.cfg.ClassName, Annotations: map[string]string{DefaultClassAnnotation: "true"}},
		Spec:       networkingv1.IngressClassSpec{Controller: ControllerName},
	}
	_, err := c.client.NetworkingV1().IngressClasses().Create(ctx, want, metav1.CreateOptions{})
	if err == nil || apierrors.IsAlreadyExists(err) {
		return nil
	}
	c.log.Warn("create ingress class; will retry", "class", c.cfg.ClassName, "err", err)
	return err
}

// Ready is closed once the listeners are bound and the first table is built.
func (c *Controller) Ready() <-chan struct{} { return c.ready }

// Addrs returns the bound addresses of "http" or "https" listeners.
func (c *Controller) Addrs(proto string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.addrs[proto])
}

// The sources interface, backed by the listers.

func (c *Controller) service(ns, name string) *corev1.Service {
	s, err := c.services.Services(ns).Get(name)
	if err != nil {
		return nil
	}
	return s
}

func (c *Controller) slices(ns, svc string) []*discoveryv1.EndpointSlice {
	objs, _ := c.sliceIdx.ByIndex(indexSliceService, ns+"/"+svc)
	out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*discoveryv1.EndpointSlice))
	}
	return out
}

func (c *Controller) secret(ns, name string) *corev1.Secret {
	s, err := c.secrets.Secrets(ns).Get(name)
	if err != nil {
		return nil
	}
	return s
}

func sliceService(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelServiceName] == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
}

var errNoListeners = errors.New("ingress: no HTTP or HTTPS listen address")
