package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"skiff/internal/testserver"
)

// TestTableListInPages: pods listed as kubectl lists them (tables in pages)
// come from the cache's encoded objects one row per pod, with each row's
// metadata but not its managedFields, whole, in pages and by selector.
func TestTableListInPages(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	for _, ns := range []string{"t1", "t2"} {
		if _, err := srv.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for i := range 12 {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%02d", i), Labels: map[string]string{"half": fmt.Sprint(i % 2)}},
				Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
			if _, err := srv.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		limit, selector string
		want            int
	}{{"", "", 24}, {"5", "", 24}, {"500", "", 24}, {"4", "half=1", 12}} {
		rows, pages := tableRows(t, srv.Client, tc.limit, tc.selector)
		if len(rows) != tc.want {
			t.Errorf("limit %q selector %q: %d rows, want %d", tc.limit, tc.selector, len(rows), tc.want)
		}
		if tc.limit == "5" && pages != 5 {
			t.Errorf("limit 5: %d pages, want 5", pages)
		}
		seen := map[string]bool{}
		for _, r := range rows {
			var pm metav1.PartialObjectMetadata
			if err := json.Unmarshal(r.Object.Raw, &pm); err != nil {
				t.Fatal(err)
			}
			key := pm.Namespace + "/" + pm.Name
			if seen[key] || pm.Name != r.Cells[0] || pm.Kind != "PartialObjectMetadata" || pm.ResourceVersion == "" || pm.UID == "" {
				t.Errorf("limit %q: row %v has metadata %s (%s, rv %q, uid %q), seen before: %v",
					tc.limit, r.Cells, key, pm.Kind, pm.ResourceVersion, pm.UID, seen[key])
			}
			seen[key] = true
			if pm.ManagedFields != nil {
				t.Errorf("row %s carries managedFields", key)
			}
			if tc.selector != "" && pm.Labels["half"] != "1" {
				t.Errorf("selector %q: row %s has labels %v", tc.selector, key, pm.Labels)
			}
		}
	}
}

// tableRows lists every pod as a table in pages of limit ("" for one page)
// and returns the rows and how many pages held them.
func tableRows(t *testing.T, c kubernetes.Interface, limit, selector string) ([]metav1.TableRow, int) {
	t.Helper()
	var rows []metav1.TableRow
	for pages, cont := 1, ""; ; pages++ {
		req := c.CoreV1().RESTClient().Get().Resource("pods").Param("continue", cont).Param("labelSelector", selector).
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
		if limit != "" {
			req = req.Param("limit", limit)
		}
		data, err := req.DoRaw(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var tbl metav1.Table
		if err := json.Unmarshal(data, &tbl); err != nil {
			t.Fatal(err)
		}
		if len(tbl.ColumnDefinitions) == 0 {
			t.Errorf("page %d has %d column definitions", pages, len(tbl.ColumnDefinitions))
		}
		rows = append(rows, tbl.Rows...)
		if cont = tbl.Continue; cont == "" {
			return rows, pages
		}
	}
}
