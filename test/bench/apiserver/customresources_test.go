package apiserver

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

const benchFields = 20

var thingsGVR = schema.GroupVersionResource{Group: "bench.example.com", Version: "v1", Resource: "things"}

// thingsCRD has a 20-field schema (integers with bounds, strings with a pattern)
// and a CEL rule across two of them.
func thingsCRD() *apiextensionsv1.CustomResourceDefinition {
	props := map[string]apiextensionsv1.JSONSchemaProps{}
	lo, hi := 0.0, 1e9
	for i := 0; i < benchFields; i++ {
		if i%2 == 0 {
			props[fmt.Sprintf("f%d", i)] = apiextensionsv1.JSONSchemaProps{Type: "integer", Minimum: &lo, Maximum: &hi}
		} else {
			props[fmt.Sprintf("f%d", i)] = apiextensionsv1.JSONSchemaProps{Type: "string", Pattern: "^[a-z0-9-]+$", MaxLength: ptr(int64(63))}
		}
	}
	spec := apiextensionsv1.JSONSchemaProps{Type: "object", Properties: props,
		XValidations: apiextensionsv1.ValidationRules{{Rule: "self.f0 <= self.f2", Message: "f0 must not exceed f2"}}}
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "things.bench.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "bench.example.com", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "things", Singular: "thing", Kind: "Thing", ListKind: "ThingList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"spec": spec}}}}},
		},
	}
}

func ptr[T any](v T) *T { return &v }

func thing(name string, i int) *unstructured.Unstructured {
	spec := map[string]interface{}{}
	for f := 0; f < benchFields; f++ {
		if f%2 == 0 {
			spec[fmt.Sprintf("f%d", f)] = int64(i + f)
		} else {
			spec[fmt.Sprintf("f%d", f)] = fmt.Sprintf("value-%d-%d", i, f)
		}
	}
	return &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "bench.example.com/v1", "kind": "Thing",
		"metadata": map[string]interface{}{"name": name}, "spec": spec,
	}}
}

func configMap(name string, i int) *corev1.ConfigMap {
	data := map[string]string{}
	for f := 0; f < benchFields; f++ {
		data[fmt.Sprintf("f%d", f)] = fmt.Sprintf("value-%d-%d", i, f)
	}
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}
}

// createAll runs create(i) for i in [0,n) from `clients` goroutines and returns
// each call's latency.
func createAll(b *testing.B, n, clients int, create func(i int) error) []time.Duration {
	b.Helper()
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += clients {
				t0 := time.Now()
				if err := create(i); err != nil {
					errs <- err
					return
				}
				lat[i] = time.Since(t0)
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return lat
}

// BenchmarkCustomResources: 10,000 custom objects of a 20-field schema with a CEL
// rule, created by 8 clients, side by side with 10,000 ConfigMaps of 20 keys in
// the same server; then all custom objects listed from the watch cache.
func BenchmarkCustomResources(b *testing.B) {
	cl, c := start(b)
	cfg, err := clientcmd.BuildConfigFromFlags("", cl.Kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100000, 100000
	ctx := context.Background()
	ext := apiextensionsclient.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, thingsCRD(), metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	things := dyn.Resource(thingsGVR).Namespace("default")
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := things.List(ctx, metav1.ListOptions{})
		return err == nil, nil
	}); err != nil {
		b.Fatal("CRD not served")
	}
	const n = 10000
	pid := cl.PID()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0, cpu0 := time.Now(), procCPU(b, pid)
		cmLat := createAll(b, n, 8, func(j int) error {
			_, err := c.CoreV1().ConfigMaps("default").Create(ctx, configMap(fmt.Sprintf("cm%d-%d", i, j), j), metav1.CreateOptions{})
			return err
		})
		cmRate, cmCPU := float64(n)/time.Since(t0).Seconds(), procCPU(b, pid)-cpu0
		t0, cpu0 = time.Now(), procCPU(b, pid)
		crLat := createAll(b, n, 8, func(j int) error {
			_, err := things.Create(ctx, thing(fmt.Sprintf("t%d-%d", i, j), j), metav1.CreateOptions{})
			return err
		})
		crRate, crCPU := float64(n)/time.Since(t0).Seconds(), procCPU(b, pid)-cpu0
		cmP99, crP99 := percentile(cmLat, 0.99), percentile(crLat, 0.99)
		b.ReportMetric(cmRate, "configmaps/s")
		b.ReportMetric(crRate, "custom/s")
		b.ReportMetric(ms(cmP99), "configmap-p99-ms")
		b.ReportMetric(ms(crP99), "custom-p99-ms")
		b.ReportMetric(cmRate/crRate, "configmap/custom")
		b.ReportMetric(float64(crP99)/float64(cmP99), "custom/configmap-p99")
		// Server CPU per create, and the ratio the target is about.
		b.ReportMetric(float64(cmCPU.Microseconds())/n, "configmap-server-cpu-us")
		b.ReportMetric(float64(crCPU.Microseconds())/n, "custom-server-cpu-us")
		b.ReportMetric(float64(crCPU)/float64(cmCPU), "custom/configmap-cpu")
		// The list is timed once the server has caught up with the writes
		// (controllers follow them for a while), so that it measures the list.
		waitQuiet(b, pid)
		t0 = time.Now()
		l, err := things.List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil || len(l.Items) != n*(i+1) {
			b.Fatalf("list: %v (%d items)", err, len(l.Items))
		}
		b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "list-custom-ms")
	}
}

// waitQuiet waits (up to a minute) until a process uses less than a tenth of a
// core over a second.
func waitQuiet(b *testing.B, pid int) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		cpu0 := procCPU(b, pid)
		time.Sleep(time.Second)
		if procCPU(b, pid)-cpu0 < 100*time.Millisecond {
			return
		}
	}
}
