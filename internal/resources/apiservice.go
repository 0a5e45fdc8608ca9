package resources

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kube-aggregator/pkg/apis/apiregistration"
	"k8s.io/kube-aggregator/pkg/apis/apiregistration/install"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"k8s.io/kube-aggregator/pkg/apis/apiregistration/validation"
)

// apiServiceStrategy takes APIService defaults and validation from kube-aggregator,
// whose rules are written for its internal type: objects are converted to it first.
type apiServiceStrategy struct{ generic }

// aggregatorScheme knows apiregistration's internal and versioned types, their
// conversions and defaults.
var aggregatorScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	install.Install(s)
	return s
}()

func (apiServiceStrategy) Default(obj runtime.Object) {
	if a, ok := obj.(*apiregistrationv1.APIService); ok {
		aggregatorScheme.Default(a)
	}
}

func (apiServiceStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	a, ok := obj.(*apiregistrationv1.APIService)
	if !ok {
		return nil
	}
	in := &apiregistration.APIService{}
	if err := aggregatorScheme.Convert(a, in, nil); err != nil {
		return field.ErrorList{field.InternalError(field.NewPath(""), err)}
	}
	ctx := context.Background()
	prev, ok := old.(*apiregistrationv1.APIService)
	if !ok {
		return validation.ValidateAPIService(ctx, in)
	}
	oldIn := &apiregistration.APIService{}
	if err := aggregatorScheme.Convert(prev, oldIn, nil); err != nil {
		return field.ErrorList{field.InternalError(field.NewPath(""), err)}
	}
	return validation.ValidateAPIServiceUpdate(ctx, in, oldIn)
}
