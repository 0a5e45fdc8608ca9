package apiextensions

import (
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/conversion"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/client-go/rest"
)

// WebhookTimeout bounds one ConversionReview: a hanging webhook fails the request
// that needed it instead of holding it forever.
const WebhookTimeout = 10 * time.Second

// Conversions makes the converters of CRDs. Webhook conversion goes through the
// library's converter (ConversionReview v1 or v1beta1, caBundle, Service or URL),
// which reaches a Service through resolver as the admission webhooks do.
type Conversions struct {
	factory *conversion.CRConverterFactory
}

// NewConversions returns the converter factory; resolver may be nil when no CRD
// names a Service.
func NewConversions(resolver webhook.ServiceResolver) (*Conversions, error) {
	f, err := conversion.NewCRConverterFactory(resolver, withTimeout)
	if err != nil {
		return nil, err
	}
	return &Conversions{factory: f}, nil
}

// withTimeout gives every conversion webhook client WebhookTimeout.
func withTimeout(next webhook.AuthenticationInfoResolver) webhook.AuthenticationInfoResolver {
	timed := func(c *rest.Config, err error) (*rest.Config, error) {
		if err != nil {
			return nil, err
		}
		c = rest.CopyConfig(c)
		c.Timeout = WebhookTimeout
		return c, nil
	}
	return &webhook.AuthenticationInfoResolverDelegator{
		ClientConfigForFunc: func(hostPort string) (*rest.Config, error) { return timed(next.ClientConfigFor(hostPort)) },
		ClientConfigForServiceFunc: func(name, namespace string, port int) (*rest.Config, error) {
			return timed(next.ClientConfigForService(name, namespace, port))
		},
	}
}

// Converter converts one CRD's objects between its versions. With conversion
// None only apiVersion changes; with Webhook the CRD's webhook converts, and what
// it returns is pruned and defaulted by the target version's schema, as
// Kubernetes does.
type Converter struct {
	webhook runtime.ObjectConvertor // nil for conversion None
	// schemas are every version's structural schema, by apiVersion.
	schemas map[string]*structuralschema.Structural
	// defaulted holds the apiVersions whose schema has defaults: defaulting
	// walks the whole object, for nothing when there are none.
	defaulted map[string]bool
	// embedded holds the apiVersions whose schema has embedded resources,
	// which are coerced and checked as the object's root is.
	embedded map[string]bool
}

func (c *Conversions) converter(crd *apiextensionsv1.CustomResourceDefinition) (*Converter, error) {
	out := &Converter{schemas: map[string]*structuralschema.Structural{}, defaulted: map[string]bool{}, embedded: map[string]bool{}}
	for _, v := range crd.Spec.Versions {
		internal, err := internalSchema(v.Schema)
		if err != nil {
			return nil, err
		}
		gv := crd.Spec.Group + "/" + v.Name
		if out.schemas[gv], err = structuralOf(internal); err != nil {
			return nil, fmt.Errorf("version %s: %w", v.Name, err)
		}
		out.defaulted[gv] = hasDefaults(out.schemas[gv])
		out.embedded[gv] = anySchema(out.schemas[gv], func(s *structuralschema.Structural) bool { return s.XEmbeddedResource })
	}
	if crd.Spec.Conversion == nil || crd.Spec.Conversion.Strategy != apiextensionsv1.WebhookConverter {
		return out, nil
	}
	if c == nil {
		return nil, fmt.Errorf("CustomResourceDefinition %s: webhook conversion is not available in this server", crd.Name)
	}
	safe, _, err := c.factory.NewConverter(crd)
	if err != nil {
		return nil, err
	}
	out.webhook = safe
	return out, nil
}

// Convert returns obj as version gv. With conversion None the result shares all
// but its top-level map with obj; a webhook's result is a new object. A webhook
// that fails, is unreachable or answers nonsense is a 503 naming the webhook's
// error, not an internal error: the server is fine, its backend is not.
func (c *Converter) Convert(obj runtime.Object, gv schema.GroupVersion) (runtime.Object, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok || u.GetAPIVersion() == gv.String() {
		return obj, nil
	}
	if c.webhook == nil {
		return ToVersion(obj, gv), nil
	}
	out, err := c.webhook.ConvertToVersion(u, gv)
	if err != nil {
		return nil, apierrors.NewServiceUnavailable(err.Error())
	}
	converted, ok := out.(*unstructured.Unstructured)
	if !ok {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("conversion webhook returned %T", out))
	}
	return converted, c.coerce(converted)
}

// ConvertList converts objs to gv, in one ConversionReview for a webhook.
func (c *Converter) ConvertList(objs []runtime.Object, gv schema.GroupVersion) ([]runtime.Object, error) {
	out := make([]runtime.Object, len(objs))
	if c.webhook == nil {
		for i, o := range objs {
			out[i] = ToVersion(o, gv)
		}
		return out, nil
	}
	list := &unstructured.UnstructuredList{Items: make([]unstructured.Unstructured, len(objs))}
	list.SetAPIVersion(gv.String())
	for i, o := range objs {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			return nil, fmt.Errorf("cannot convert %T", o)
		}
		list.Items[i] = *u
	}
	converted, err := c.webhook.ConvertToVersion(list, gv)
	if err != nil {
		return nil, apierrors.NewServiceUnavailable(err.Error())
	}
	items := converted.(*unstructured.UnstructuredList).Items
	for i := range items {
		if objs[i].GetObjectKind().GroupVersionKind().GroupVersion() != gv {
			if err := c.coerce(&items[i]); err != nil {
				return nil, err
			}
		}
		out[i] = &items[i]
	}
	return out, nil
}

// coerce prunes what a webhook returned with the target version's schema, and
// defaults it.
func (c *Converter) coerce(u *unstructured.Unstructured) error {
	s := c.schemas[u.GetAPIVersion()]
	if s == nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("conversion webhook returned unknown version %s", u.GetAPIVersion()))
	}
	if err, _ := coerceRoot(u.Object, s, c.embedded[u.GetAPIVersion()], objectmeta.CoerceOptions{DropInvalidFields: true}); err != nil {
		return apierrors.NewServiceUnavailable("conversion webhook returned invalid metadata: " + err.Error())
	}
	c.PruneAndDefault(u)
	return nil
}

// Defaulted returns obj with its version's defaults applied, as Kubernetes
// defaults what it reads from storage: an object stored before its schema got a
// default reads with it. obj may be the watch cache's copy, so the result is a copy
// when there are defaults to apply.
func (c *Converter) Defaulted(obj runtime.Object) runtime.Object {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok || !c.defaulted[u.GetAPIVersion()] {
		return obj
	}
	u = u.DeepCopy()
	c.Default(u)
	return u
}

// PruneAndDefault drops what obj's version's schema does not know and applies its
// defaults, as Kubernetes does with what a conversion webhook or mutating admission
// returns.
func (c *Converter) PruneAndDefault(obj runtime.Object) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		if s := c.schemas[u.GetAPIVersion()]; s != nil {
			pruning.Prune(u.Object, s, true)
			c.Default(u)
		}
	}
}

// Default applies the defaults of obj's own version's schema.
func (c *Converter) Default(obj runtime.Object) {
	if u, ok := obj.(*unstructured.Unstructured); ok && c.defaulted[u.GetAPIVersion()] {
		structuraldefaulting.Default(u.Object, c.schemas[u.GetAPIVersion()])
	}
}

// hasDefaults reports a default anywhere in s, where the library's defaulting
// looks for them (properties, items, additionalProperties).
func hasDefaults(s *structuralschema.Structural) bool {
	return anySchema(s, func(s *structuralschema.Structural) bool { return s.Default.Object != nil })
}
