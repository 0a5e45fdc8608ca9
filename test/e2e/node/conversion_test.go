package node_test

import (
	"regexp"
	"strings"
	"testing"
)

// TestCRDConversionWebhook: a CRD with two versions converted by the toolbox's
// /convert running as a pod (v1 spec.size "N", the storage version, is v2
// spec.replicas N). Objects written in either version read back in the other
// through kubectl; with the webhook pod gone, reads that need conversion fail
// with a message naming the webhook while the storage version still serves.
func TestCRDConversionWebhook(t *testing.T) {
	n := ns(t, "conversion")
	caBundle := startWebhookPod(t, n)
	const crd = "gears.conversion.e2e.skiff.local"
	cleanupCluster(t, "crd", crd)
	apply(t, "", `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: `+crd+`}
spec:
  group: conversion.e2e.skiff.local
  scope: Namespaced
  names: {plural: gears, singular: gear, kind: Gear, listKind: GearList}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns: [{name: Size, type: string, jsonPath: .spec.size}]
    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: string}}}}}}
  - name: v2
    served: true
    storage: false
    additionalPrinterColumns: [{name: Replicas, type: integer, jsonPath: .spec.replicas}]
    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {replicas: {type: integer}}}}}}
  conversion:
    strategy: Webhook
    webhook:
      conversionReviewVersions: [v1, v1beta1]
      clientConfig:
        service: {namespace: `+n+`, name: webhook, path: /convert}
        caBundle: `+caBundle+`
`)
	cluster.MustKubectl(t, "wait", "--for", "condition=established", "crd/"+crd, "--timeout=20s")
	v1, v2 := "gears.v1.conversion.e2e.skiff.local", "gears.v2.conversion.e2e.skiff.local"
	apply(t, n, `apiVersion: conversion.e2e.skiff.local/v1
kind: Gear
metadata: {name: g1}
spec: {size: "3"}
---
apiVersion: conversion.e2e.skiff.local/v2
kind: Gear
metadata: {name: g2}
spec: {replicas: 4}
`)
	if got := cluster.MustKubectl(t, "-n", n, "get", v2, "g1", "-o", "jsonpath={.apiVersion} {.spec.replicas}"); got != "conversion.e2e.skiff.local/v2 3" {
		t.Errorf("g1 (written as v1) read as v2: %q", got)
	}
	if got := cluster.MustKubectl(t, "-n", n, "get", v1, "g2", "-o", "jsonpath={.apiVersion} {.spec.size}"); got != "conversion.e2e.skiff.local/v1 4" {
		t.Errorf("g2 (written as v2) read as v1: %q", got)
	}
	table := cluster.MustKubectl(t, "-n", n, "get", v2)
	if !regexp.MustCompile(`^NAME\s+REPLICAS\s*\ng1\s+3\s*\ng2\s+4\s*$`).MatchString(table) {
		t.Errorf("kubectl get as v2 (printer columns of v2):\n%s", table)
	}
	cluster.MustKubectl(t, "-n", n, "patch", v2, "g1", "--type=merge", "-p", `{"spec":{"replicas":5}}`)
	if got := cluster.MustKubectl(t, "-n", n, "get", v1, "g1", "-o", "jsonpath={.spec.size}"); got != "5" {
		t.Errorf("g1 patched as v2, read as v1: size %q, want 5", got)
	}
	if got := cluster.MustKubectl(t, "get", "crd", crd, "-o", "jsonpath={.status.storedVersions}"); got != `["v1"]` {
		t.Errorf("storedVersions %s", got)
	}

	// The webhook goes away: conversions fail with the webhook named, not a 500,
	// and the storage version still reads and writes.
	cluster.MustKubectl(t, "-n", n, "scale", "deployment/webhook", "--replicas=0")
	out, err := retryKubectl(t, func(_ string, err error) bool { return err != nil }, "-n", n, "get", v2, "g1")
	if err == nil || !strings.Contains(out, "conversion webhook for conversion.e2e.skiff.local/v1, Kind=Gear failed") || strings.Contains(out, "InternalError") {
		t.Errorf("read as v2 with the webhook down: %v\n%s", err, out)
	}
	if _, err := cluster.Kubectl("-n", n, "get", v2, "g1", "-v=6"); err == nil || !strings.Contains(err.Error(), "503 Service Unavailable") {
		t.Errorf("read as v2 with the webhook down, want HTTP 503: %v", err)
	}
	if got := cluster.MustKubectl(t, "-n", n, "get", v1, "g1", "-o", "jsonpath={.spec.size}"); got != "5" {
		t.Errorf("read as v1 (storage) with the webhook down: %q", got)
	}
	if out, err := cluster.Kubectl("-n", n, "patch", v2, "g2", "--type=merge", "-p", `{"spec":{"replicas":9}}`); err == nil {
		t.Errorf("patched as v2 with the webhook down:\n%s", out)
	}
	if got := cluster.MustKubectl(t, "-n", n, "get", v1, "g2", "-o", "jsonpath={.spec.size}"); got != "4" {
		t.Errorf("a refused v2 patch changed g2: size %q", got)
	}
}
