package quota

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	apiquota "k8s.io/apiserver/pkg/quota/v1"
)

// A ResourceClaim is charged as one object and, per device class, the most devices
// it may be given: its count, 32 for All, and for alternatives the largest of each
// class.
func TestDeviceClaimUsage(t *testing.T) {
	exact := func(class string, mode resourcev1.DeviceAllocationMode, n int64) *resourcev1.ExactDeviceRequest {
		return &resourcev1.ExactDeviceRequest{DeviceClassName: class, AllocationMode: mode, Count: n}
	}
	claim := &resourcev1.ResourceClaim{Spec: resourcev1.ResourceClaimSpec{Devices: resourcev1.DeviceClaim{Requests: []resourcev1.DeviceRequest{
		{Name: "a", Exactly: exact("gold", resourcev1.DeviceAllocationModeExactCount, 2)},
		{Name: "b", Exactly: exact("gold", resourcev1.DeviceAllocationModeExactCount, 1)},
		{Name: "c", Exactly: exact("silver", resourcev1.DeviceAllocationModeAll, 0)},
		{Name: "d", FirstAvailable: []resourcev1.DeviceSubRequest{
			{Name: "big", DeviceClassName: "bronze", AllocationMode: resourcev1.DeviceAllocationModeExactCount, Count: 4},
			{Name: "small", DeviceClassName: "bronze", AllocationMode: resourcev1.DeviceAllocationModeExactCount, Count: 1},
			{Name: "other", DeviceClassName: "gold", AllocationMode: resourcev1.DeviceAllocationModeExactCount, Count: 1},
		}},
	}}}}
	got, err := deviceClaimUsage(claim)
	want := corev1.ResourceList{
		"count/resourceclaims.resource.k8s.io":       q("1"),
		"gold.deviceclass.resource.k8s.io/devices":   q("4"),
		"silver.deviceclass.resource.k8s.io/devices": q("32"),
		"bronze.deviceclass.resource.k8s.io/devices": q("4"),
	}
	if err != nil || !apiquota.Equals(got, want) {
		t.Errorf("got %v (%v), want %v", got, err, want)
	}
	names := []corev1.ResourceName{"count/resourceclaims.resource.k8s.io", "gold.deviceclass.resource.k8s.io/devices", "pods", "count/pods"}
	if m := deviceClaimEvaluator(nil).MatchingResources(names); len(m) != 2 {
		t.Errorf("device claim evaluator matches %v, want the claim count and the class's devices", m)
	}
	if NewRegistry(nil).Get(resourcev1.Resource("resourceclaims")) == nil {
		t.Error("the registry has no evaluator for ResourceClaims")
	}
}
