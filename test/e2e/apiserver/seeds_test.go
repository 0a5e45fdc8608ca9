package apiserver_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestSeedManifests applies every manifest of the seed documents and reads each object
// back: every field the manifest set must come back with the value it set.
func TestSeedManifests(t *testing.T) {
	n := ns(t, "seeds")
	files, err := filepath.Glob(filepath.Join("..", "testdata", "seeds", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no seed manifests: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := cluster.Kubectl("-n", n, "apply", "-f", f)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "created") && !strings.Contains(out, "configured") {
				t.Fatalf("apply: %s", out)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, doc := range strings.Split(string(data), "\n---") {
				var want map[string]any
				if err := yaml.Unmarshal([]byte(doc), &want); err != nil || want == nil {
					continue
				}
				md := want["metadata"].(map[string]any)
				apiVersion := want["apiVersion"].(string)
				kind := want["kind"].(string)
				resource := strings.ToLower(kind) + "." + strings.Split(apiVersion+"/", "/")[1] + "." + group(apiVersion)
				got := getJSON(t, "-n", n, "get", resource, md["name"].(string))
				upgradeExpectation(want)
				if diff := missing(want, got, ""); diff != "" {
					t.Errorf("%s %s read back differently:\n%s", kind, md["name"], diff)
				}
			}
		})
	}
}

func group(apiVersion string) string {
	g, _, found := strings.Cut(apiVersion, "/")
	if !found {
		return ""
	}
	return g
}

func getJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out := cluster.MustKubectl(t, append(args, "-o", "json")...)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// upgradeExpectation rewrites the one legacy field the seeds use that skiff reads as
// its successor (autoscaling/v2beta1's targetAverageUtilization).
func upgradeExpectation(want map[string]any) {
	spec, _ := want["spec"].(map[string]any)
	metrics, _ := spec["metrics"].([]any)
	for _, m := range metrics {
		metric := m.(map[string]any)
		if v, ok := metric["targetAverageUtilization"]; ok {
			delete(metric, "targetAverageUtilization")
			metric["resource"].(map[string]any)["target"] = map[string]any{"type": "Utilization", "averageUtilization": v}
		}
	}
	if md, ok := want["metadata"].(map[string]any); ok {
		delete(md, "namespace")
	}
}

// missing lists the fields of want that got lacks or holds with another value.
func missing(want, got any, path string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path + ": not an object\n"
		}
		var out string
		for k, v := range w {
			out += missing(v, g[k], path+"."+k)
		}
		return out
	case []any:
		// Lists may gain server-added items (default tolerations): every wanted item
		// must be found, in order.
		g, ok := got.([]any)
		if !ok {
			return path + ": not a list\n"
		}
		j := 0
		for i := range w {
			for j < len(g) && missing(w[i], g[j], "") != "" {
				j++
			}
			if j == len(g) {
				return fmt.Sprintf("%s[%d]: want %s, not in %s\n", path, i, jsonString(w[i]), jsonString(g))
			}
			j++
		}
		return ""
	default:
		if !reflect.DeepEqual(normalize(want), normalize(got)) {
			b, _ := json.Marshal(got)
			return path + ": want " + jsonString(want) + ", got " + string(b) + "\n"
		}
		return ""
	}
}

// normalize compares numbers and quantities the way the API returns them.
func normalize(v any) any {
	switch x := v.(type) {
	case float64:
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	}
	return v
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
