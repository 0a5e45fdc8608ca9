package apiserver

import (
	"k8s.io/apimachinery/pkg/runtime"
	admissionapi "k8s.io/apiserver/pkg/admission"

	"skiff/internal/resources"
)

// schemeObjects let plugins make, convert and default built-in objects through
// skiff's scheme.
var schemeObjects = admissionapi.NewObjectInterfacesFromScheme(resources.Scheme)

// admissionObjects are the ObjectInterfaces the admission plugins get for ep's
// objects. What a webhook or policy changed is defaulted again with ep's defaults
// (and a custom object pruned by its CRD's schema first), as Kubernetes defaults
// what mutating admission returns. Custom objects are made and converted between
// versions by their CRD.
func (ep *endpoint) admissionObjects() admissionapi.ObjectInterfaces {
	return endpointObjects{ObjectInterfaces: schemeObjects, ep: ep}
}

type endpointObjects struct {
	admissionapi.ObjectInterfaces
	ep *endpoint
}

func (o endpointObjects) GetObjectDefaulter() runtime.ObjectDefaulter { return o }

func (o endpointObjects) Default(obj runtime.Object) {
	if o.ep.custom != nil {
		o.ep.custom.Convert.PruneAndDefault(obj)
		return
	}
	o.ep.Strategy.Default(obj)
}

func (o endpointObjects) GetObjectCreater() runtime.ObjectCreater {
	if o.ep.custom != nil {
		return unstructuredKinds{o.ep.custom.Convert}
	}
	return o.ObjectInterfaces.GetObjectCreater()
}

func (o endpointObjects) GetObjectConvertor() runtime.ObjectConvertor {
	if o.ep.custom != nil {
		return unstructuredKinds{o.ep.custom.Convert}
	}
	return o.ObjectInterfaces.GetObjectConvertor()
}
