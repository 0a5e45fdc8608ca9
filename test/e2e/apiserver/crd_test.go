package apiserver_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

const widgetYAML = `apiVersion: example.com/v1
kind: Widget
metadata:
  name: %s
spec:
  size: %s
  port: http
  extra: {anything: [1, 2]}
  tags:
  - {name: a, value: b}
%s`

func widgetManifest(name, size, more string) string { return fmt.Sprintf(widgetYAML, name, size, more) }

// mustFail runs kubectl expecting an error that mentions every one of want.
func mustFail(t *testing.T, stdin string, want []string, args ...string) {
	t.Helper()
	_, err := cluster.KubectlStdin(stdin, args...)
	if err == nil {
		t.Fatalf("kubectl %s succeeded, want an error mentioning %q", strings.Join(args, " "), want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("kubectl %s: %v\ndoes not mention %q", strings.Join(args, " "), err, w)
		}
	}
}

func contains(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// TestCustomResourceDefinition is the session of a user who extends the API with
// a kind of their own: the CRD's schema validates, defaults and prunes; printer
// columns, subresources, short names, categories and explain work; owned objects
// are collected; deleting the CRD deletes its objects.
func TestCustomResourceDefinition(t *testing.T) {
	n := ns(t, "widgets")
	crd := filepath.Join(framework.RepoRoot(), "internal/apiextensions/testdata/widgets.yaml")
	cluster.MustKubectl(t, "apply", "-f", crd)
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "-f", crd, "--ignore-not-found", "--wait=false") })
	cluster.MustKubectl(t, "wait", "--for", "condition=established", "crd/widgets.example.com", "--timeout=30s")
	contains(t, cluster.MustKubectl(t, "get", "crd", "widgets.example.com", "-o", "jsonpath={.status.acceptedNames.kind} {.status.storedVersions} {.status.conditions[?(@.type==\"NamesAccepted\")].reason}"),
		"Widget", "v1", "NoConflicts")
	contains(t, cluster.MustKubectl(t, "api-resources", "--api-group=example.com"), "widgets", "wd", "Widget")

	// kubectl asks for strict field validation by default: an unknown field is refused,
	// named; with --validate=false it is dropped.
	bogus := widgetManifest("w1", "medium", "  bogus: true\n")
	mustFail(t, bogus, []string{`unknown field "spec.bogus"`}, "-n", n, "apply", "-f", "-")
	cluster.MustKubectl(t, "-n", n, "get", "widgets") // nothing was stored: an empty list, no error
	if _, err := cluster.KubectlStdin(bogus, "-n", n, "apply", "--validate=false", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	// Defaults filled in, unknown fields pruned, preserved and int-or-string fields kept.
	got := jsonpath(t, "{.spec.replicas},{.spec.maxReplicas},{.spec.color},{.spec.bogus},{.spec.port},{.spec.extra.anything[1]},{.metadata.generation}", "-n", n, "get", "wd", "w1")
	if got != "1,5,blue,,http,2,1" {
		t.Errorf("w1 as stored = %q, want defaults, no bogus, port and extra kept", got)
	}

	// Invalid widgets are refused with the field named, and nothing is stored.
	for i, tc := range []struct{ size, more, want string }{
		{"huge", "", `spec.size: Unsupported value: "huge"`},
		{"small", "  replicas: 11\n", "spec.replicas: Invalid value: 11"},
		{"small", "  color: Red\n", "spec.color: Invalid value"},
		{"small", "  replicas: 6\n", "replicas must not exceed maxReplicas"},
		{"small", "  port: [1]\n", "spec.port"},
	} {
		name := fmt.Sprintf("bad%d", i)
		mustFail(t, widgetManifest(name, tc.size, tc.more), []string{"is invalid", tc.want}, "-n", n, "apply", "-f", "-")
		mustFail(t, "", []string{"NotFound"}, "-n", n, "get", "widget", name)
	}
	mustFail(t, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: nosize}\nspec: {replicas: 1}\n",
		[]string{"spec.size: Required value"}, "-n", n, "apply", "-f", "-")

	// A transition rule: growing is fine, shrinking back to small is not.
	cluster.MustKubectl(t, "-n", n, "patch", "widget", "w1", "--type=merge", "-p", `{"spec":{"size":"large"}}`)
	mustFail(t, "", []string{"a widget cannot shrink back to small"}, "-n", n, "patch", "widget", "w1", "--type=merge", "-p", `{"spec":{"size":"small"}}`)
	// Custom resources have no strategic merge patch.
	mustFail(t, "", []string{"merge"}, "-n", n, "patch", "widget", "w1", "--type=strategic", "-p", `{"spec":{"size":"medium"}}`)

	// Scale and status subresources; printer columns (READY is -o wide only).
	cluster.MustKubectl(t, "-n", n, "scale", "widget", "w1", "--replicas=3")
	cluster.MustKubectl(t, "-n", n, "patch", "widget", "w1", "--subresource=status", "--type=merge", "-p", `{"status":{"ready":true,"replicas":3}}`)
	contains(t, cluster.MustKubectl(t, "-n", n, "get", "widgets"), "SIZE", "REPLICAS", "w1", "large", "3")
	if out := cluster.MustKubectl(t, "-n", n, "get", "widgets"); strings.Contains(out, "READY") {
		t.Errorf("priority-1 column shown without -o wide:\n%s", out)
	}
	contains(t, cluster.MustKubectl(t, "-n", n, "get", "widgets", "-o", "wide"), "READY", "true")
	if got := jsonpath(t, "{.spec.replicas},{.status.ready},{.metadata.generation}", "-n", n, "get", "widget", "w1"); got != "3,true,3" {
		t.Errorf("after scale and status patch: %q, want 3,true,3 (status does not move generation)", got)
	}
	contains(t, cluster.MustKubectl(t, "-n", n, "get", "all"), "widget.example.com/w1")
	contains(t, cluster.MustKubectl(t, "explain", "widget.spec"), "size", "replicas", "maxReplicas")

	// Server-side apply knows the list-map keys of spec.tags from the schema: another
	// manager's entry joins the list instead of replacing it.
	for _, m := range []struct{ manager, tag string }{{"one", "a"}, {"two", "c"}} {
		cfg := "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w3}\nspec:\n  size: small\n  tags: [{name: " + m.tag + "}]\n"
		if _, err := cluster.KubectlStdin(cfg, "-n", n, "apply", "--server-side", "--field-manager="+m.manager, "-f", "-"); err != nil {
			t.Fatal(err)
		}
	}
	if got := jsonpath(t, "{.spec.tags[*].name}", "-n", n, "get", "widget", "w3"); got != "a c" {
		t.Errorf("tags after two managers' server-side apply = %q, want a c", got)
	}

	// Objects owned by a widget go with it.
	uid := jsonpath(t, "{.metadata.uid}", "-n", n, "get", "widget", "w1")
	owned := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\n  ownerReferences:\n  - {apiVersion: example.com/v1, kind: Widget, name: w1, uid: %s}\n", uid)
	if _, err := cluster.KubectlStdin(owned, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	cluster.MustKubectl(t, "-n", n, "delete", "widget", "w1")
	framework.Eventually(t, 90*time.Second, func() error {
		if _, err := cluster.Kubectl("-n", n, "get", "configmap", "owned"); err == nil {
			return fmt.Errorf("configmap owned by a deleted widget is still there")
		}
		return nil
	})

	// Deleting the CRD deletes its objects first, then the API is gone.
	if _, err := cluster.KubectlStdin(widgetManifest("w2", "small", ""), "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	cluster.MustKubectl(t, "delete", "crd", "widgets.example.com", "--timeout=60s")
	framework.Eventually(t, 10*time.Second, func() error {
		out, err := cluster.Kubectl("api-resources", "--api-group=example.com")
		if err != nil || strings.Contains(out, "widgets") {
			return fmt.Errorf("widgets still discovered (%v):\n%s", err, out)
		}
		return nil
	})
	mustFail(t, "", []string{"the server doesn't have a resource type"}, "-n", n, "get", "widgets")
	// Recreated, the CRD starts empty: w2 went with the old one.
	cluster.MustKubectl(t, "apply", "-f", crd)
	cluster.MustKubectl(t, "wait", "--for", "condition=established", "crd/widgets.example.com", "--timeout=30s")
	framework.Eventually(t, 10*time.Second, func() error {
		out, err := cluster.Kubectl("-n", n, "get", "widgets", "-o", "name")
		if err != nil || strings.TrimSpace(out) != "" {
			return fmt.Errorf("widgets after recreating the CRD: %q %v", out, err)
		}
		return nil
	})
}

// TestUnknownFields: kubectl's --validate picks fieldValidation; for built-in kinds
// Strict (kubectl's default) refuses an unknown field with its name, false (Ignore)
// drops it, and a merge patch carrying one is no server error.
func TestUnknownFields(t *testing.T) {
	n := ns(t, "unknown-fields")
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\nbogus: 1\n"
	mustFail(t, cm, []string{`unknown field "bogus"`}, "-n", n, "apply", "-f", "-")
	if _, err := cluster.KubectlStdin(cm, "-n", n, "apply", "--validate=false", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.KubectlStdin(strings.Replace(cm, "name: c", "name: d", 1), "-n", n, "create", "--validate=warn", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	cluster.MustKubectl(t, "-n", n, "patch", "configmap", "c", "--type=merge", "-p", `{"bogus":1,"data":{"k":"w"}}`)
	if got := jsonpath(t, "{.data.k}", "-n", n, "get", "configmap", "c"); got != "w" {
		t.Errorf("data.k after merge patch = %q, want w", got)
	}
}
