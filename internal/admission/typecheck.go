package admission

import (
	"context"
	"log/slog"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/cel/openapi/resolver"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// startTypeChecking runs the loop kube-controller-manager runs for policies: each new
// generation of a ValidatingAdmissionPolicy is type-checked against the OpenAPI
// schemas of the kinds it matches, and the warnings (a field that does not exist, a
// comparison of the wrong types) go to status.typeChecking, where `kubectl get -o
// yaml` shows them. A policy with warnings still acts, as in Kubernetes.
func startTypeChecking(ctx context.Context, client kubernetes.Interface, f informers.SharedInformerFactory) {
	inf := f.Admissionregistration().V1().ValidatingAdmissionPolicies()
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	enqueue := func(obj any) {
		if p, ok := obj.(*admissionv1.ValidatingAdmissionPolicy); ok && p.Status.ObservedGeneration != p.Generation {
			queue.Add(p.Name)
		}
	}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery()))
	checker := &validating.TypeChecker{
		SchemaResolver: &resolver.ClientDiscoveryResolver{Discovery: client.Discovery()},
		RestMapper:     rediscovering{mapper},
	}
	go func() {
		<-ctx.Done()
		queue.ShutDown()
	}()
	go func() {
		for {
			name, quit := queue.Get()
			if quit {
				return
			}
			if err := typeCheck(ctx, client, inf.Lister().Get, checker, name); err != nil {
				slog.Warn("type-check admission policy", "policy", name, "err", err)
				queue.AddRateLimited(name)
			} else {
				queue.Forget(name)
			}
			queue.Done(name)
		}
	}()
}

func typeCheck(ctx context.Context, client kubernetes.Interface, get func(string) (*admissionv1.ValidatingAdmissionPolicy, error),
	checker *validating.TypeChecker, name string) error {
	p, err := get(name)
	if err != nil || p.Status.ObservedGeneration == p.Generation {
		return nil // deleted, or done already
	}
	warnings := checker.Check(p)
	p = p.DeepCopy()
	status := admissionv1.ValidatingAdmissionPolicyStatus{ObservedGeneration: p.Generation, Conditions: p.Status.Conditions,
		TypeChecking: &admissionv1.TypeChecking{ExpressionWarnings: warnings}}
	if apiequality.Semantic.DeepEqual(status, p.Status) {
		return nil
	}
	p.Status = status
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = client.AdmissionregistrationV1().ValidatingAdmissionPolicies().UpdateStatus(ctx, p, metav1.UpdateOptions{})
	return err
}
