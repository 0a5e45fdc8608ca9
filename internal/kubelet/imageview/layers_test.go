package imageview

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

// digestOf is the OCI definition of a digest: the algorithm, a colon, the hex hash.
func digestOf(s string) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(s))) }

func TestChainID(t *testing.T) {
	a, b, c := digestOf("layer a"), digestOf("layer b"), digestOf("layer c")
	// The image spec: ChainID(L0) = DiffID(L0); ChainID(L0..Ln) = Digest(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
	ab := digestOf(a + " " + b)
	for _, tc := range []struct {
		name    string
		diffIDs []string
		want    string
		wantErr string
	}{
		{name: "one layer is its own chain", diffIDs: []string{a}, want: a},
		{name: "two layers", diffIDs: []string{a, b}, want: ab},
		{name: "three layers", diffIDs: []string{a, b, c}, want: digestOf(ab + " " + c)},
		{name: "order matters", diffIDs: []string{b, a}, want: digestOf(b + " " + a)},
		{name: "no layers", wantErr: "no layers"},
		{name: "not a digest", diffIDs: []string{a, "layer-b"}, wantErr: `layer 1 diff ID "layer-b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chainID(tc.diffIDs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("chainID(%v) = %q, %v; want an error with %q", tc.diffIDs, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("chainID(%v) = %q, %v; want %q", tc.diffIDs, got, err, tc.want)
			}
		})
	}
}

func TestDiffIDs(t *testing.T) {
	a, b := digestOf("a"), digestOf("b")
	for _, tc := range []struct {
		name    string
		info    map[string]string
		want    []string
		wantErr string
	}{
		{name: "containerd's verbose info", info: map[string]string{"info": `{"chainID":"x","imageSpec":{"architecture":"amd64","rootfs":{"type":"layers","diff_ids":["` + a + `","` + b + `"]}}}`}, want: []string{a, b}},
		{name: "no layers listed", info: map[string]string{"info": `{"imageSpec":{}}`}},
		{name: "not verbose", info: map[string]string{}, wantErr: "no verbose info"},
		{name: "not JSON", info: map[string]string{"info": "{"}, wantErr: "verbose image info"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := diffIDs(tc.info)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("diffIDs = %v, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("diffIDs = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestSnapshotter(t *testing.T) {
	for _, tc := range []struct {
		name string
		info map[string]string
		want string
	}{
		{name: "from the CRI config", info: map[string]string{"config": `{"containerd":{"snapshotter":"native","defaultRuntimeName":"runc"}}`}, want: "native"},
		{name: "not said", info: map[string]string{"config": `{"containerd":{}}`}, want: "overlayfs"},
		{name: "no config", info: nil, want: "overlayfs"},
		{name: "unreadable", info: map[string]string{"config": "not json"}, want: "overlayfs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := snapshotter(tc.info); got != tc.want {
				t.Fatalf("snapshotter = %q, want %q", got, tc.want)
			}
		})
	}
}
