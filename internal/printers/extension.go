package printers

import (
	"fmt"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
)

// addExtension registers the kinds that extend the API: webhook configurations,
// admission policies and their bindings, and APIServices.
func addExtension(m map[schema.GroupKind]*Printer) {
	const group = "admissionregistration.k8s.io"
	webhooks := col("Webhooks", typeInteger, "Webhooks is the number of webhooks of the configuration.")
	register(m, printerOf([]metav1.TableColumnDefinition{nameColumn(), webhooks, ageColumn()},
		func(c *admissionv1.MutatingWebhookConfiguration, now time.Time) []interface{} {
			return []interface{}{c.Name, int64(len(c.Webhooks)), age(now, c.CreationTimestamp)}
		}), group, "MutatingWebhookConfiguration")
	register(m, printerOf([]metav1.TableColumnDefinition{nameColumn(), webhooks, ageColumn()},
		func(c *admissionv1.ValidatingWebhookConfiguration, now time.Time) []interface{} {
			return []interface{}{c.Name, int64(len(c.Webhooks)), age(now, c.CreationTimestamp)}
		}), group, "ValidatingWebhookConfiguration")
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Validations", typeInteger, "Validations is the number of validations of the policy."),
		col("ParamKind", typeString, "ParamKind is the kind of the policy's parameters."),
		ageColumn(),
	}, func(p *admissionv1.ValidatingAdmissionPolicy, now time.Time) []interface{} {
		return []interface{}{p.Name, int64(len(p.Spec.Validations)), paramKind(p.Spec.ParamKind), age(now, p.CreationTimestamp)}
	}), group, "ValidatingAdmissionPolicy")
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Mutations", typeInteger, "Mutations is the number of mutations of the policy."),
		col("ParamKind", typeString, "ParamKind is the kind of the policy's parameters."),
		ageColumn(),
	}, func(p *admissionv1.MutatingAdmissionPolicy, now time.Time) []interface{} {
		return []interface{}{p.Name, int64(len(p.Spec.Mutations)), paramKind(p.Spec.ParamKind), age(now, p.CreationTimestamp)}
	}), group, "MutatingAdmissionPolicy")
	bindingColumns := []metav1.TableColumnDefinition{
		nameColumn(),
		col("PolicyName", typeString, "PolicyName is the policy the binding binds."),
		col("ParamRef", typeString, "ParamRef names the parameters of the binding."),
		ageColumn(),
	}
	register(m, printerOf(bindingColumns, func(b *admissionv1.ValidatingAdmissionPolicyBinding, now time.Time) []interface{} {
		return []interface{}{b.Name, b.Spec.PolicyName, paramRef(b.Spec.ParamRef), age(now, b.CreationTimestamp)}
	}), group, "ValidatingAdmissionPolicyBinding")
	register(m, printerOf(bindingColumns, func(b *admissionv1.MutatingAdmissionPolicyBinding, now time.Time) []interface{} {
		return []interface{}{b.Name, b.Spec.PolicyName, paramRef(b.Spec.ParamRef), age(now, b.CreationTimestamp)}
	}), group, "MutatingAdmissionPolicyBinding")
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Service", typeString, "The reference to the service that hosts this API endpoint."),
		col("Available", typeString, "Whether this service is available."),
		ageColumn(),
	}, apiServiceRow), "apiregistration.k8s.io", "APIService")
}

// apiServiceRow prints Local for the groups the server serves itself, and the
// Available condition with its reason when it is not True.
func apiServiceRow(s *apiregistrationv1.APIService, now time.Time) []interface{} {
	service := "Local"
	if r := s.Spec.Service; r != nil {
		service = r.Namespace + "/" + r.Name
	}
	available := "Unknown"
	for _, c := range s.Status.Conditions {
		if c.Type != apiregistrationv1.Available {
			continue
		}
		available = string(c.Status)
		if c.Status != apiregistrationv1.ConditionTrue {
			available = fmt.Sprintf("%s (%s)", c.Status, c.Reason)
		}
	}
	return []interface{}{s.Name, service, available, age(now, s.CreationTimestamp)}
}

// paramKind prints a policy's paramKind as apiVersion/kind.
func paramKind(k *admissionv1.ParamKind) string {
	if k == nil {
		return "<unset>"
	}
	return k.APIVersion + "/" + k.Kind
}

// paramRef prints a binding's paramRef as namespace/name, or */selector.
func paramRef(r *admissionv1.ParamRef) string {
	switch {
	case r == nil:
		return "<unset>"
	case r.Name == "":
		return "*/" + metav1.FormatLabelSelector(r.Selector)
	case r.Namespace == "":
		return "*/" + r.Name
	}
	return r.Namespace + "/" + r.Name
}
