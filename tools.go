//go:build tools

// Package tools pins the modules the project's parts use, so that work on one part
// never races another over go.mod.
package tools

import (
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/google/go-containerregistry/pkg/registry"
	_ "github.com/miekg/dns"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "gopkg.in/evanphx/json-patch.v4"
	_ "k8s.io/cri-api/pkg/apis/runtime/v1"
	_ "k8s.io/kube-openapi/cmd/openapi-gen"
	_ "sigs.k8s.io/knftables"
)
