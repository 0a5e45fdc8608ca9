package apiserver_test

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"skiff/internal/testserver"
)

// BenchmarkCreateCustomObject and BenchmarkCreateConfigMap create objects of 20
// fields from 8 clients in an in-process server, so that a CPU profile of the
// custom-object create path (-cpuprofile) shows the server's side of it.
func BenchmarkCreateCustomObject(b *testing.B) {
	srv := testserver.Start(b)
	ctx := context.Background()
	cfg := *srv.Config
	cfg.QPS, cfg.Burst = 1e6, 1e6
	props := map[string]apiextensionsv1.JSONSchemaProps{}
	lo, hi, max := 0.0, 1e9, int64(63)
	for i := 0; i < 20; i++ {
		if i%2 == 0 {
			props[fmt.Sprintf("f%d", i)] = apiextensionsv1.JSONSchemaProps{Type: "integer", Minimum: &lo, Maximum: &hi}
		} else {
			props[fmt.Sprintf("f%d", i)] = apiextensionsv1.JSONSchemaProps{Type: "string", Pattern: "^[a-z0-9-]+$", MaxLength: &max}
		}
	}
	crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "things.bench.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{Group: "bench.example.com", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "things", Singular: "thing", Kind: "Thing", ListKind: "ThingList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{"spec": {Type: "object", Properties: props,
						XValidations: apiextensionsv1.ValidationRules{{Rule: "self.f0 <= self.f2"}}}}}}}}}}
	establish(b, ctx, apiextensionsclient.NewForConfigOrDie(&cfg), crd)
	things := dynamic.NewForConfigOrDie(&cfg).Resource(schema.GroupVersionResource{Group: "bench.example.com", Version: "v1", Resource: "things"}).Namespace("default")
	b.ResetTimer()
	createIn8(b, func(i int) error {
		spec := map[string]interface{}{}
		for f := 0; f < 20; f++ {
			if f%2 == 0 {
				spec[fmt.Sprintf("f%d", f)] = int64(i + f)
			} else {
				spec[fmt.Sprintf("f%d", f)] = fmt.Sprintf("value-%d-%d", i, f)
			}
		}
		_, err := things.Create(ctx, &unstructured.Unstructured{Object: map[string]interface{}{"apiVersion": "bench.example.com/v1", "kind": "Thing",
			"metadata": map[string]interface{}{"name": fmt.Sprintf("t%d", i)}, "spec": spec}}, metav1.CreateOptions{})
		return err
	})
}

func BenchmarkCreateConfigMap(b *testing.B) {
	srv := testserver.Start(b)
	ctx := context.Background()
	cfg := *srv.Config
	cfg.QPS, cfg.Burst = 1e6, 1e6
	c := kubernetes.NewForConfigOrDie(&cfg)
	b.ResetTimer()
	createIn8(b, func(i int) error {
		data := map[string]string{}
		for f := 0; f < 20; f++ {
			data[fmt.Sprintf("f%d", f)] = fmt.Sprintf("value-%d-%d", i, f)
		}
		_, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c%d", i)}, Data: data}, metav1.CreateOptions{})
		return err
	})
}

// createIn8 runs create(i) for i in [0,b.N) from 8 goroutines, and reports the
// process's CPU time per create (client and server together): on a busy machine
// it moves far less than the time per create does.
func createIn8(b *testing.B, create func(i int) error) {
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	defer func() { b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op") }()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < b.N; i += 8 {
				if err := create(i); err != nil {
					b.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
}

// cpuTime is the user and system time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
