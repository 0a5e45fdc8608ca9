// Package resources describes every kind the API server serves: where it lives in the
// URL space, how it is stored, and the per-kind rules (defaults, validation, the
// spec/status split, which fields can be selected on).
package resources

import (
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Info describes one resource as served at one group/version.
type Info struct {
	schema.GroupVersionResource
	Kind       string
	ListKind   string
	Singular   string
	ShortNames []string
	Categories []string
	Namespaced bool
	// Subresources served besides the object itself ("status", "scale", "log", ...).
	Subresources []string
	// Storage is the version objects are kept in; equal to the served version unless
	// this Info is an older alias (autoscaling/v1 HPA, policy/v1beta1 PDB).
	Storage schema.GroupVersion
	// Deprecated, when set, is sent as a Warning header on every request.
	Deprecated string
	// Inert, when set, says what skiff does not do with these objects yet; it is sent
	// as a Warning header on every write.
	Inert string
	// Strategy holds the per-kind rules.
	Strategy Strategy
	// Virtual resources are never stored: creating one asks a question and the answer
	// comes back in its status (access reviews, token reviews).
	Virtual bool
	// ReadOnly virtual resources are read, never written: get and list compute the
	// answer from live data (metrics.k8s.io from the node agents' stats).
	ReadOnly bool
}

// GVK is the kind as served.
func (i *Info) GVK() schema.GroupVersionKind { return i.GroupVersion().WithKind(i.Kind) }

// StorageGVK is the kind as stored.
func (i *Info) StorageGVK() schema.GroupVersionKind { return i.Storage.WithKind(i.Kind) }

// GroupResource identifies the resource as served.
func (i *Info) GroupResource() schema.GroupResource { return i.GroupVersionResource.GroupResource() }

// StorageResource is where objects are kept: aliases in other groups (events.k8s.io
// events) share the storage of the resource they alias.
func (i *Info) StorageResource() schema.GroupResource {
	return schema.GroupResource{Group: i.Storage.Group, Resource: i.Resource}
}

// HasSubresource reports whether sub is served.
func (i *Info) HasSubresource(sub string) bool {
	for _, s := range i.Subresources {
		if s == sub {
			return true
		}
	}
	return false
}

// Strategy is what differs between kinds when objects are written. Objects passed in
// are always of the storage version.
type Strategy interface {
	// Default fills unset fields, as Kubernetes' defaulters do.
	Default(obj runtime.Object)
	// PrepareForCreate clears what a client may not set on create (usually status).
	PrepareForCreate(obj runtime.Object)
	// PrepareForUpdate keeps what this write may not change: status on a main-resource
	// update, everything but status on a status update.
	PrepareForUpdate(obj, old runtime.Object, subresource string)
	// Validate checks a new object (old == nil) or an update.
	Validate(obj, old runtime.Object) field.ErrorList
	// Fields are the values field selectors can match on.
	Fields(obj runtime.Object) fields.Set
}

// SubresourceValidator is a Strategy whose writes through some subresource follow
// rules of their own instead of Validate's (pods/resize may change what an ordinary
// pod update may not). handled is false for the subresources it leaves to Validate.
type SubresourceValidator interface {
	ValidateSubresource(obj, old runtime.Object, subresource string) (errs field.ErrorList, handled bool)
}
