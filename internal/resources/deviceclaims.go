package resources

import (
	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// deviceClaimStrategy stores ResourceClaims and their templates generically, with
// Kubernetes' defaults for device requests: a request names how many devices it
// wants (one unless it says otherwise), which is what quota charges.
type deviceClaimStrategy struct{ generic }

func (deviceClaimStrategy) Default(obj runtime.Object) {
	var spec *resourcev1.ResourceClaimSpec
	switch o := obj.(type) {
	case *resourcev1.ResourceClaim:
		spec = &o.Spec
	case *resourcev1.ResourceClaimTemplate:
		spec = &o.Spec.Spec
	default:
		return
	}
	for i := range spec.Devices.Requests {
		r := &spec.Devices.Requests[i]
		if r.Exactly != nil {
			defaultDeviceCount(&r.Exactly.AllocationMode, &r.Exactly.Count)
		}
		for j := range r.FirstAvailable {
			defaultDeviceCount(&r.FirstAvailable[j].AllocationMode, &r.FirstAvailable[j].Count)
		}
	}
}

func defaultDeviceCount(mode *resourcev1.DeviceAllocationMode, count *int64) {
	if *mode == "" {
		*mode = resourcev1.DeviceAllocationModeExactCount
	}
	if *mode == resourcev1.DeviceAllocationModeExactCount && *count == 0 {
		*count = 1
	}
}
