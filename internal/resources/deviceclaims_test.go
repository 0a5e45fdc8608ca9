package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	resourcev1 "k8s.io/api/resource/v1"
)

// A device request that says nothing asks for exactly one device, in claims and in
// claim templates alike; one that says All keeps its count at zero.
func TestDeviceClaimDefaults(t *testing.T) {
	requests := func() []resourcev1.DeviceRequest {
		return []resourcev1.DeviceRequest{
			{Name: "one", Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: "gold"}},
			{Name: "all", Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: "gold", AllocationMode: resourcev1.DeviceAllocationModeAll}},
			{Name: "alt", FirstAvailable: []resourcev1.DeviceSubRequest{{Name: "a", DeviceClassName: "gold", Count: 3}}},
		}
	}
	want := []resourcev1.DeviceRequest{
		{Name: "one", Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: "gold", AllocationMode: resourcev1.DeviceAllocationModeExactCount, Count: 1}},
		{Name: "all", Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: "gold", AllocationMode: resourcev1.DeviceAllocationModeAll}},
		{Name: "alt", FirstAvailable: []resourcev1.DeviceSubRequest{{Name: "a", DeviceClassName: "gold", AllocationMode: resourcev1.DeviceAllocationModeExactCount, Count: 3}}},
	}
	claim := &resourcev1.ResourceClaim{ObjectMeta: rtMeta("c"), Spec: resourcev1.ResourceClaimSpec{Devices: resourcev1.DeviceClaim{Requests: requests()}}}
	tmpl := &resourcev1.ResourceClaimTemplate{ObjectMeta: rtMeta("t"), Spec: resourcev1.ResourceClaimTemplateSpec{
		Spec: resourcev1.ResourceClaimSpec{Devices: resourcev1.DeviceClaim{Requests: requests()}}}}
	deviceClaimStrategy{}.Default(claim)
	deviceClaimStrategy{}.Default(tmpl)
	if diff := cmp.Diff(want, claim.Spec.Devices.Requests); diff != "" {
		t.Errorf("claim (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, tmpl.Spec.Spec.Devices.Requests); diff != "" {
		t.Errorf("template (-want +got):\n%s", diff)
	}
}
