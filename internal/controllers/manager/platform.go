package manager

import (
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	custommetrics "k8s.io/metrics/pkg/client/custom_metrics"
	externalmetrics "k8s.io/metrics/pkg/client/external_metrics"

	"skiff/internal/controllers/attachdetach"
	"skiff/internal/controllers/clusterautoscaler"
	"skiff/internal/controllers/clusterroleaggregation"
	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/disruption"
	"skiff/internal/controllers/endpoints"
	"skiff/internal/controllers/endpointslice"
	"skiff/internal/controllers/ephemeral"
	"skiff/internal/controllers/garbagecollector"
	"skiff/internal/controllers/namespace"
	"skiff/internal/controllers/nodelifecycle"
	"skiff/internal/controllers/persistentvolume"
	"skiff/internal/controllers/podautoscaler"
	"skiff/internal/controllers/podgc"
	"skiff/internal/controllers/resourcequota"
	"skiff/internal/controllers/serviceaccount"
	"skiff/internal/controllers/servicecidr"
	"skiff/internal/controllers/vacprotection"
	"skiff/internal/controllers/verticalpodautoscaler"
)

// PlatformOptions configure the platform controllers; zero values take defaults.
type PlatformOptions struct {
	// RootCA is the PEM bundle published as kube-root-ca.crt in every namespace; when
	// empty, the CA that cfg trusts is used.
	RootCA []byte
	// TerminatedPodThreshold is how many finished pods the pod GC keeps (12500).
	TerminatedPodThreshold int
	GC                     garbagecollector.Options
	NodeLifecycle          nodelifecycle.Options
	// VPAInterval is how often the VPA recommender runs (1m).
	VPAInterval time.Duration
}

// Platform returns the constructors of the cluster's platform controllers by name:
// garbagecollector, namespace, endpoints, endpointslice, endpointslicemirroring,
// serviceaccount, podgc, nodelifecycle, disruption, persistentvolume-binder,
// ephemeral-volume, vac-protection, attachdetach, horizontalpodautoscaling, verticalpodautoscaling,
// clusterautoscaler, resourcequota, clusterrole-aggregation and servicecidr. The garbage collector and the namespace controller reach
// objects of every kind through a metadata client built from cfg; the autoscaler
// reaches scale subresources and metrics.k8s.io; the quota controller counts resources
// without a typed informer through the metadata client.
func Platform(cfg *rest.Config, opts PlatformOptions) (map[string]Constructor, error) {
	md, err := metadata.NewForConfig(ClientConfig(cfg))
	if err != nil {
		return nil, err
	}
	hpa, err := autoscalerClients(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(ClientConfig(cfg))
	if err != nil {
		return nil, err
	}
	vpaClients := verticalpodautoscaler.Clients{Dynamic: dyn, Scales: hpa.Scales, Mapper: hpa.Mapper, Metrics: hpa.Metrics}
	ca := opts.RootCA
	if len(ca) == 0 {
		if ca, err = trustedCA(cfg); err != nil {
			return nil, err
		}
	}
	return map[string]Constructor{
		"garbagecollector": func(c *controller.Context) Runner { return garbagecollector.New(c, md, opts.GC) },
		"namespace":        func(c *controller.Context) Runner { return namespace.New(c, md) },
		"endpoints":        func(c *controller.Context) Runner { return endpoints.New(c) },
		"endpointslice":    func(c *controller.Context) Runner { return endpointslice.New(c) },
		"endpointslicemirroring": func(c *controller.Context) Runner {
			return endpointslice.NewMirroring(c)
		},
		"serviceaccount": func(c *controller.Context) Runner { return serviceaccount.New(c, ca) },
		"podgc": func(c *controller.Context) Runner {
			return podgc.New(c, podgc.Options{TerminatedPodThreshold: opts.TerminatedPodThreshold})
		},
		"nodelifecycle":           func(c *controller.Context) Runner { return nodelifecycle.New(c, opts.NodeLifecycle) },
		"disruption":              func(c *controller.Context) Runner { return disruption.New(c) },
		"persistentvolume-binder": func(c *controller.Context) Runner { return persistentvolume.New(c) },
		"ephemeral-volume":        func(c *controller.Context) Runner { return ephemeral.New(c) },
		"vac-protection":          func(c *controller.Context) Runner { return vacprotection.New(c) },
		"attachdetach":            func(c *controller.Context) Runner { return attachdetach.New(c) },
		"horizontalpodautoscaling": func(c *controller.Context) Runner {
			return podautoscaler.New(c, hpa)
		},
		"verticalpodautoscaling": func(c *controller.Context) Runner {
			return verticalpodautoscaler.New(c, vpaClients, opts.VPAInterval)
		},
		// Idle until kube-system/skiff-node-pools exists (see package nodepool).
		"clusterautoscaler": func(c *controller.Context) Runner { return clusterautoscaler.New(c) },
		"resourcequota":     func(c *controller.Context) Runner { return resourcequota.New(c, md, c.Client.Discovery()) },
		"clusterrole-aggregation": func(c *controller.Context) Runner {
			return clusterroleaggregation.New(c)
		},
		"servicecidr": func(c *controller.Context) Runner { return servicecidr.New(c) },
	}, nil
}

// autoscalerClients reach any kind's scale subresource (resolved through discovery, so
// custom resources work too), the resource metrics API, and the custom and external
// metrics APIs (whichever version of custom.metrics.k8s.io discovery prefers).
func autoscalerClients(cfg *rest.Config) (podautoscaler.Clients, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "skiff-controller-manager"
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return podautoscaler.Clients{}, err
	}
	cached := memory.NewMemCacheClient(disc)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cached)
	scales, err := scale.NewForConfig(cfg, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(cached))
	if err != nil {
		return podautoscaler.Clients{}, err
	}
	metrics, err := metricsclient.NewForConfig(cfg)
	if err != nil {
		return podautoscaler.Clients{}, err
	}
	external, err := externalmetrics.NewForConfig(cfg)
	if err != nil {
		return podautoscaler.Clients{}, err
	}
	versions := custommetrics.NewAvailableAPIsGetter(disc)
	return podautoscaler.Clients{Scales: scales, Mapper: mapper, Metrics: metrics.MetricsV1beta1(),
		Custom: custommetrics.NewForConfig(cfg, mapper, versions), External: external, CustomVersions: versions}, nil
}

// trustedCA is the CA bundle cfg verifies the API server with.
func trustedCA(cfg *rest.Config) ([]byte, error) {
	if len(cfg.TLSClientConfig.CAData) > 0 {
		return cfg.TLSClientConfig.CAData, nil
	}
	if cfg.TLSClientConfig.CAFile != "" {
		b, err := os.ReadFile(cfg.TLSClientConfig.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read cluster CA: %w", err)
		}
		return b, nil
	}
	return nil, nil
}
