package quota

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
)

// deviceClaimCount is the object count of ResourceClaims, which their evaluator
// measures along with the devices they ask for.
const deviceClaimCount corev1.ResourceName = "count/resourceclaims.resource.k8s.io"

// deviceClaimEvaluator charges resource.k8s.io ResourceClaims: one object each, and
// under <class>.deviceclass.resource.k8s.io/devices the most devices of each class
// the claim may be given. skiff does not allocate claims yet, but what a claim asks
// for is known when it is written, so quota limits claims as Kubernetes does.
// (The implicit requests.deviceclass.resource.kubernetes.io/<class> names belong to
// claims the scheduler makes for extended resources backed by devices, which skiff's
// scheduler does not make.)
func deviceClaimEvaluator(list Lister) *evaluator {
	return &evaluator{
		gr:      resourcev1.Resource("resourceclaims"),
		list:    list,
		names:   []corev1.ResourceName{deviceClaimCount},
		more:    func(n corev1.ResourceName) bool { return strings.HasSuffix(string(n), corev1.ResourceClaimsPerClass) },
		usage:   deviceClaimUsage,
		updates: mainUpdates, // a claim's spec is immutable: an update changes nothing, as Kubernetes counts it
	}
}

func deviceClaimUsage(obj runtime.Object) (corev1.ResourceList, error) {
	claim, ok := obj.(*resourcev1.ResourceClaim)
	if !ok {
		return nil, fmt.Errorf("expected a ResourceClaim, got %T", obj)
	}
	out := corev1.ResourceList{deviceClaimCount: *resource.NewQuantity(1, resource.DecimalSI)}
	add := func(class string, n int64) {
		name := corev1.ResourceName(class + corev1.ResourceClaimsPerClass)
		q := out[name]
		q.Add(*resource.NewQuantity(n, resource.DecimalSI))
		out[name] = q
	}
	for _, r := range claim.Spec.Devices.Requests {
		switch {
		case len(r.FirstAvailable) > 0:
			// One of the alternatives is given: charge each class the most any
			// alternative of that class may take.
			most := map[string]int64{}
			for _, sub := range r.FirstAvailable {
				most[sub.DeviceClassName] = max(most[sub.DeviceClassName], deviceCount(sub.AllocationMode, sub.Count))
			}
			for class, n := range most {
				add(class, n)
			}
		case r.Exactly != nil:
			add(r.Exactly.DeviceClassName, deviceCount(r.Exactly.AllocationMode, r.Exactly.Count))
		}
	}
	return out, nil
}

// deviceCount is the most devices a request may be given: its count, or for "All"
// the most an allocation can hold. A mode this version does not know counts none.
func deviceCount(mode resourcev1.DeviceAllocationMode, count int64) int64 {
	switch mode {
	case resourcev1.DeviceAllocationModeExactCount:
		return count
	case resourcev1.DeviceAllocationModeAll:
		return resourcev1.AllocationResultsMaxSize
	}
	return 0
}
