package resources

import "k8s.io/apimachinery/pkg/runtime/schema"

var (
	flowcontrol      = schema.GroupVersion{Group: "flowcontrol.apiserver.k8s.io", Version: "v1"}
	resourceAPI      = schema.GroupVersion{Group: "resource.k8s.io", Version: "v1"}
	storageMigration = schema.GroupVersion{Group: "storagemigration.k8s.io", Version: "v1"}
)

// inertKinds are served with Kubernetes' API semantics (storage, watch, patch, apply,
// status) so that clients and the conformance suite can use them, but nothing in skiff
// acts on them yet. Every write says so in a Warning, as an object the API accepts
// must never be silently ignored.
func inertKinds() []*Info {
	rows := []struct {
		kind
		inert string
	}{
		{kind{flowcontrol, "flowschemas", "FlowSchema", false, nil, nil, []string{"status"}, generic{}},
			"skiff stores FlowSchemas but does not yet apply priority and fairness to requests"},
		{kind{flowcontrol, "prioritylevelconfigurations", "PriorityLevelConfiguration", false, nil, nil, []string{"status"}, generic{}},
			"skiff stores PriorityLevelConfigurations but does not yet apply priority and fairness to requests"},
		{kind{resourceAPI, "deviceclasses", "DeviceClass", false, nil, nil, nil, generic{}}, noDRA},
		{kind{resourceAPI, "devicetaintrules", "DeviceTaintRule", false, nil, nil, []string{"status"}, generic{}}, noDRA},
		{kind{resourceAPI, "resourceclaims", "ResourceClaim", true, nil, nil, []string{"status"}, deviceClaimStrategy{}}, noDRA},
		{kind{resourceAPI, "resourceclaimtemplates", "ResourceClaimTemplate", true, nil, nil, nil, deviceClaimStrategy{}}, noDRA},
		{kind{resourceAPI, "resourceslices", "ResourceSlice", false, nil, nil, nil, generic{}}, noDRA},
		{kind{networking, "servicecidrs", "ServiceCIDR", false, nil, nil, []string{"status"}, serviceCIDRStrategy{}},
			"skiff allocates Service IPs from --service-cidr; ServiceCIDR objects are stored but not used for allocation yet"},
		{kind{networking, "ipaddresses", "IPAddress", false, []string{"ip"}, nil, nil, ipAddressStrategy{}},
			"skiff allocates Service IPs from --service-cidr; IPAddress objects are stored but not used for allocation yet"},
		// CSIDriver, CSINode and VolumeAttachment act (internal/csi, the attach/detach
		// controller), CSIStorageCapacity too (the scheduler's volume binding): served
		// here without a warning, with the kinds that do not.
		{kind{storage, "csidrivers", "CSIDriver", false, nil, nil, nil, generic{}}, ""},
		{kind{storage, "csinodes", "CSINode", false, nil, nil, nil, generic{}}, ""},
		{kind{storage, "csistoragecapacities", "CSIStorageCapacity", true, nil, nil, nil, generic{}}, ""},
		{kind{storage, "volumeattachments", "VolumeAttachment", false, nil, nil, []string{"status"}, generic{}}, ""},
		{kind{storage, "volumeattributesclasses", "VolumeAttributesClass", false, []string{"vac"}, nil, nil, generic{}},
			"skiff stores VolumeAttributesClasses, but nothing modifies volumes by them"},
		// StorageVersionMigrations act (internal/apiserver/migration.go).
		{kind{storageMigration, "storageversionmigrations", "StorageVersionMigration", false, nil, nil, []string{"status"}, generic{}}, ""},
	}
	out := make([]*Info, 0, len(rows))
	for _, r := range rows {
		info := r.info()
		info.Inert = r.inert
		out = append(out, info)
	}
	return out
}

const noDRA = "skiff has no dynamic resource allocation yet: resource.k8s.io objects are stored, claims are never allocated"
