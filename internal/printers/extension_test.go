package printers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
)

func TestAPIServiceRow(t *testing.T) {
	gk := schema.GroupKind{Group: "apiregistration.k8s.io", Kind: "APIService"}
	local := &apiregistrationv1.APIService{ObjectMeta: meta("v1.apps"), Status: apiregistrationv1.APIServiceStatus{
		Conditions: []apiregistrationv1.APIServiceCondition{{Type: apiregistrationv1.Available, Status: apiregistrationv1.ConditionTrue, Reason: "Local"}}}}
	down := &apiregistrationv1.APIService{ObjectMeta: meta("v1beta1.metrics.example.com"),
		Spec: apiregistrationv1.APIServiceSpec{Service: &apiregistrationv1.ServiceReference{Namespace: "monitoring", Name: "metrics"}},
		Status: apiregistrationv1.APIServiceStatus{Conditions: []apiregistrationv1.APIServiceCondition{
			{Type: apiregistrationv1.Available, Status: apiregistrationv1.ConditionFalse, Reason: "MissingEndpoints"}}}}
	for _, tc := range []struct {
		obj  *apiregistrationv1.APIService
		want []interface{}
	}{
		{local, []interface{}{"v1.apps", "Local", "True", "10m"}},
		{down, []interface{}{"v1beta1.metrics.example.com", "monitoring/metrics", "False (MissingEndpoints)", "10m"}},
	} {
		if diff := cmp.Diff(tc.want, rowOf(t, gk, tc.obj)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.obj.Name, diff)
		}
	}
}
