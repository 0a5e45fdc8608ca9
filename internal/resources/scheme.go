package resources

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientscheme "k8s.io/client-go/kubernetes/scheme"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// Scheme knows every served Go type. It is filled once here and only read afterwards.
var Scheme = newScheme()

// Codecs encode and decode JSON, YAML and protobuf for Scheme.
var Codecs = serializer.NewCodecFactory(Scheme, serializer.EnableStrict)

// HPAv2beta2 is the removed autoscaling/v2beta2 version, served with the v2 Go types
// because its fields are the same.
var HPAv2beta2 = schema.GroupVersion{Group: "autoscaling", Version: "v2beta2"}

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := apiregistrationv1.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := metricsv1beta1.AddToScheme(s); err != nil {
		panic(err)
	}
	meta := schema.GroupVersion{Group: "meta.k8s.io", Version: "v1"}
	s.AddKnownTypes(meta, &metav1.Table{}, &metav1.PartialObjectMetadata{}, &metav1.PartialObjectMetadataList{}, &metav1.Status{}, &metav1.WatchEvent{})
	metav1.AddToGroupVersion(s, HPAv2beta2)
	s.AddKnownTypeWithName(HPAv2beta2.WithKind("HorizontalPodAutoscaler"), &autoscalingv2.HorizontalPodAutoscaler{})
	s.AddKnownTypeWithName(HPAv2beta2.WithKind("HorizontalPodAutoscalerList"), &autoscalingv2.HorizontalPodAutoscalerList{})
	return s
}
