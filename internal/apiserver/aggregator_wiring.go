package apiserver

import (
	"context"
	"crypto/tls"
	"path/filepath"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	aggregatorclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	aggregatorinformers "k8s.io/kube-aggregator/pkg/client/informers/externalversions"

	admissionplugins "skiff/internal/admission"
	"skiff/internal/aggregator"
	"skiff/internal/apiextensions"
	"skiff/internal/auth"
)

// addAggregator serves APIServices: requests for a group/version an APIService hands
// to a Service are proxied to it with a front-proxy client certificate signed by the
// cluster CA, which backends trust for the X-Remote-* headers.
func (s *Server) addAggregator() error {
	cert, key, err := s.CA.ClientCert(filepath.Join(s.cfg.DataDir, "tls"), "front-proxy-client", "front-proxy-client", nil)
	if err != nil {
		return err
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return err
	}
	admin, err := s.ClientConfig("skiff-aggregator", "system:kube-aggregator", []string{auth.Masters})
	if err != nil {
		return err
	}
	core, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return err
	}
	agg, err := aggregatorclient.NewForConfig(admin)
	if err != nil {
		return err
	}
	coreInformers := informers.NewSharedInformerFactory(core, 0)
	resolver, err := admissionplugins.NewServiceResolver(coreInformers)
	if err != nil {
		return err
	}
	// CRD conversion webhooks reach their Services the same way.
	if s.API.Conversions, err = apiextensions.NewConversions(resolver); err != nil {
		return err
	}
	aggInformers := aggregatorinformers.NewSharedInformerFactory(agg, 0)
	proxy := aggregator.NewProxy(aggInformers.Apiregistration().V1().APIServices().Lister(), resolver, pair)
	s.API.Aggregator = proxy
	s.startAggregator = func(ctx context.Context) {
		coreInformers.Start(ctx.Done())
		aggInformers.Start(ctx.Done())
		go proxy.RunAvailability(ctx, agg.ApiregistrationV1())
	}
	return nil
}
