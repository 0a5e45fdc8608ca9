package volumesnapshot

import (
	"slices"
	"testing"
)

func TestCRDs(t *testing.T) {
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range crds {
		names = append(names, c.Name)
		served := 0
		for _, v := range c.Spec.Versions {
			if v.Served {
				served++
				if v.Name != "v1" || !v.Storage {
					t.Errorf("%s serves %s (storage %v)", c.Name, v.Name, v.Storage)
				}
			}
		}
		if served != 1 {
			t.Errorf("%s serves %d versions", c.Name, served)
		}
	}
	slices.Sort(names)
	want := []string{"volumesnapshotclasses.snapshot.storage.k8s.io", "volumesnapshotcontents.snapshot.storage.k8s.io", "volumesnapshots.snapshot.storage.k8s.io"}
	if !slices.Equal(names, want) {
		t.Errorf("CRDs %v, want %v", names, want)
	}
}
