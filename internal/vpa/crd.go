package vpa

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

//go:embed crds.yaml
var crdsYAML []byte

// CRDs are the definitions of VerticalPodAutoscaler and
// VerticalPodAutoscalerCheckpoint that the API server creates at start, so the
// seed's manifests apply on a fresh cluster.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(crdsYAML), 4096)
	var out []*apiextensionsv1.CustomResourceDefinition
	for {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := dec.Decode(crd); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("vpa CRDs: %w", err)
		}
		out = append(out, crd)
	}
}
