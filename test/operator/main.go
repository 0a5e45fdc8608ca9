// Command operator is a small operator written with controller-runtime, as an
// operator author would write one, that skiff's e2e tests build and run against a
// skiff server: it reconciles Echo objects (operator.e2e.skiff.local/v1) into
// spec.copies ConfigMaps owned by the Echo, reports status.readyCopies through the
// status subresource, holds a finalizer that records each Echo's deletion in the
// ConfigMap echo-farewells, and runs under leader election (a Lease).
//
// It is its own Go module, so that controller-runtime never enters skiff's.
package main

import (
	"flag"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

var echoGVK = schema.GroupVersionKind{Group: "operator.e2e.skiff.local", Version: "v1", Kind: "Echo"}

func main() {
	// controller-runtime's own --kubeconfig flag names the cluster.
	namespace := flag.String("leader-election-namespace", "default", "namespace of the leader election Lease")
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	if err := run(*namespace); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(namespace string) error {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		LeaderElection:          true,
		LeaderElectionID:        "echo-operator",
		LeaderElectionNamespace: namespace,
		Metrics:                 metricsserver.Options{BindAddress: "0"},
	})
	if err != nil {
		return err
	}
	echo := &unstructured.Unstructured{}
	echo.SetGroupVersionKind(echoGVK)
	err = ctrl.NewControllerManagedBy(mgr).For(echo).Owns(&corev1.ConfigMap{}).Complete(&reconciler{client: mgr.GetClient()})
	if err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}
