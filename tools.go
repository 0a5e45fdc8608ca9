//go:build tools

// Package tools pins the modules the project's parts use, so that work on one part
// never races another over go.mod.
package tools

import (
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/google/go-containerregistry/pkg/registry"
	_ "github.com/miekg/dns"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/robfig/cron/v3"
	_ "gopkg.in/evanphx/json-patch.v4"
	_ "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	_ "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	_ "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	_ "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	_ "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	_ "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	_ "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	_ "k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	_ "k8s.io/apiserver/pkg/admission/plugin/webhook/mutating"
	_ "k8s.io/apiserver/pkg/admission/plugin/webhook/validating"
	_ "k8s.io/apiserver/pkg/apis/audit/v1"
	_ "k8s.io/apiserver/pkg/storage/value/encrypt/aes"
	_ "k8s.io/component-helpers/scheduling/corev1"
	_ "k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	_ "k8s.io/cri-api/pkg/apis/runtime/v1"
	_ "k8s.io/kube-openapi/cmd/openapi-gen"
	_ "k8s.io/pod-security-admission/admission"
	_ "k8s.io/pod-security-admission/policy"
	_ "sigs.k8s.io/knftables"
)
