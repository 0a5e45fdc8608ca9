package scheduler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    Config
		wantErr string
	}{
		{"bin-pack with weights", "profile: bin-pack\npercentageOfNodesToScore: 30\npluginWeights:\n  ImageLocality: 0\n",
			Config{Profile: ProfileBinPack, PercentageOfNodesToScore: 30, PluginWeights: map[string]int64{"ImageLocality": 0}}, ""},
		{"empty is the default", "", Config{}, ""},
		{"unknown profile", "profile: pack\n", Config{}, `unknown profile "pack"`},
		{"unknown plugin", "pluginWeights:\n  Imagelocality: 1\n", Config{}, `"Imagelocality" is not a score plugin`},
		{"typo in a field", "percentageOfNodes: 10\n", Config{}, "unknown field"},
		{"percentage out of range", "percentageOfNodesToScore: 120\n", Config{}, "not between 0 and 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadConfig(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	tests := []struct {
		pct, nodes, want int
	}{
		{0, 50, 50},     // small clusters: all
		{0, 1000, 420},  // 50% - 1000/125 = 42%
		{0, 5000, 500},  // 10%
		{0, 10000, 500}, // floor 5%
		{0, 150, 100},   // at least 100
		{30, 1000, 300}, // configured
		{100, 5000, 5000},
	}
	for _, tt := range tests {
		c := Config{PercentageOfNodesToScore: tt.pct}
		if got := c.numFeasibleNodesToFind(tt.nodes); got != tt.want {
			t.Errorf("pct=%d nodes=%d: got %d, want %d", tt.pct, tt.nodes, got, tt.want)
		}
	}
}
