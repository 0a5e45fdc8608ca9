// Package volumesnapshot serves snapshot.storage.k8s.io/v1 (VolumeSnapshotClass,
// VolumeSnapshot, VolumeSnapshotContent) as upstream does: CRDs, here installed by
// the API server at start like built-in kinds. The definitions are the ones the
// external-snapshotter client module ships, copied by go generate so that the
// schema and its validation rules match the types skiff's snapshot controller uses.
package volumesnapshot

import (
	"bytes"
	"embed"
	"fmt"
	"io"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

//go:generate sh -c "cp $(go list -m -f '{{.Dir}}' github.com/kubernetes-csi/external-snapshotter/client/v8)/config/crd/snapshot.storage.k8s.io_*.yaml crds/ && chmod 644 crds/*.yaml"

//go:embed crds/*.yaml
var crdFiles embed.FS

// CRDs are the snapshot kinds' definitions.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	files, err := crdFiles.ReadDir("crds")
	if err != nil {
		return nil, err
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		data, err := crdFiles.ReadFile("crds/" + f.Name())
		if err != nil {
			return nil, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := dec.Decode(crd); err == io.EOF {
				break
			} else if err != nil {
				return nil, fmt.Errorf("snapshot CRD %s: %w", f.Name(), err)
			}
			if crd.Name != "" {
				out = append(out, crd)
			}
		}
	}
	return out, nil
}
