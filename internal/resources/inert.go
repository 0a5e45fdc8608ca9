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
		// FlowSchemas and PriorityLevelConfigurations act (internal/apiserver/flowcontrol.go).
		{kind{flowcontrol, "flowschemas", "FlowSchema", false, nil, nil, []string{"status"}, flowSchemaStrategy{}}, ""},
		{kind{flowcontrol, "prioritylevelconfigurations", "PriorityLevelConfiguration", false, nil, nil, []string{"status"}, priorityLevelStrategy{}}, ""},
		{kind{resourceAPI, "deviceclasses", "DeviceClass", false, nil, nil, nil, generic{}}, noDRA},
		{kind{resourceAPI, "devicetaintrules", "DeviceTaintRule", false, nil, nil, []string{"status"}, generic{}}, noDRA},
		{kind{resourceAPI, "resourceclaims", "ResourceClaim", true, nil, nil, []string{"status"}, deviceClaimStrategy{}}, noDRA},
		{kind{resourceAPI, "resourceclaimtemplates", "ResourceClaimTemplate", true, nil, nil, nil, deviceClaimStrategy{}}, noDRA},
		{kind{resourceAPI, "resourceslices", "ResourceSlice", false, nil, nil, nil, generic{}}, noDRA},
		// CSIDriver, CSINode and VolumeAttachment act (internal/csi, the attach/detach
		// controller), CSIStorageCapacity too (the scheduler's volume binding), and
		// ServiceCIDR and IPAddress (Service cluster IPs, the servicecidr controller):
		// served here without a warning, with the kinds that do not.
		{kind{networking, "servicecidrs", "ServiceCIDR", false, nil, nil, []string{"status"}, serviceCIDRStrategy{}}, ""},
		{kind{networking, "ipaddresses", "IPAddress", false, []string{"ip"}, nil, nil, ipAddressStrategy{}}, ""},
		{kind{storage, "csidrivers", "CSIDriver", false, nil, nil, nil, generic{}}, ""},
		{kind{storage, "csinodes", "CSINode", false, nil, nil, nil, generic{}}, ""},
		{kind{storage, "csistoragecapacities", "CSIStorageCapacity", true, nil, nil, nil, generic{}}, ""},
		{kind{storage, "volumeattachments", "VolumeAttachment", false, nil, nil, []string{"status"}, generic{}}, ""},
		// VolumeAttributesClasses act: the CSI provisioner passes them to CreateVolume,
		// the agent's modifier to ControllerModifyVolume (internal/csi/modify.go).
		{kind{storage, "volumeattributesclasses", "VolumeAttributesClass", false, []string{"vac"}, nil, nil, vacStrategy{}}, ""},
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
