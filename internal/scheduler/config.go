package scheduler

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"

	"skiff/internal/scheduler/plugins"
)

// Profiles a config file can select.
const (
	ProfileSpread  = "spread"
	ProfileBinPack = "bin-pack"
	// DefaultSchedulerName is the schedulerName of the pods this scheduler serves.
	DefaultSchedulerName = "default-scheduler"
)

// Config is the scheduler's configuration, as read from --scheduler-config.
//
//	profile: bin-pack                # spread (default) or bin-pack
//	percentageOfNodesToScore: 0      # 0: adaptive, as Kubernetes
//	pluginWeights:                   # score weights; 0 turns a score off
//	  ImageLocality: 0
//	  NodeResourcesFit: 3
type Config struct {
	Profile                  string           `json:"profile,omitempty"`
	PercentageOfNodesToScore int              `json:"percentageOfNodesToScore,omitempty"`
	PluginWeights            map[string]int64 `json:"pluginWeights,omitempty"`
	// SchedulerName defaults to default-scheduler.
	SchedulerName string `json:"schedulerName,omitempty"`
	// Parallelism is how many goroutines filter and score nodes (default GOMAXPROCS).
	Parallelism int `json:"parallelism,omitempty"`
}

// defaultWeights are Kubernetes' default score weights: taints and affinities
// outweigh raw resource balance because they express user intent.
func defaultWeights() map[string]int64 {
	return map[string]int64{
		plugins.TaintTolerationName:    3,
		plugins.NodeAffinityName:       2,
		plugins.InterPodAffinityName:   2,
		plugins.PodTopologySpreadName:  2,
		plugins.NodeResourcesFitName:   1,
		plugins.BalancedAllocationName: 1,
		plugins.ImageLocalityName:      1,
	}
}

// LoadConfig reads a YAML config file; unknown fields are errors so that a typo in
// a plugin weight does not silently do nothing.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var cfg Config
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return Config{}, fmt.Errorf("scheduler config %s: %w", path, err)
	}
	if err := cfg.validate(); err != nil {
		return Config{}, fmt.Errorf("scheduler config %s: %w", path, err)
	}
	return cfg, nil
}

func (c *Config) validate() error {
	switch c.Profile {
	case "", ProfileSpread, ProfileBinPack:
	default:
		return fmt.Errorf("profile: unknown profile %q (want %q or %q)", c.Profile, ProfileSpread, ProfileBinPack)
	}
	if c.PercentageOfNodesToScore < 0 || c.PercentageOfNodesToScore > 100 {
		return fmt.Errorf("percentageOfNodesToScore: %d is not between 0 and 100", c.PercentageOfNodesToScore)
	}
	known := defaultWeights()
	for name, w := range c.PluginWeights {
		if _, ok := known[name]; !ok {
			return fmt.Errorf("pluginWeights: %q is not a score plugin", name)
		}
		if w < 0 || w > 100 {
			return fmt.Errorf("pluginWeights.%s: weight %d is not between 0 and 100", name, w)
		}
	}
	return nil
}

// weights merges the configured weights over the defaults.
func (c *Config) weights() map[string]int64 {
	w := defaultWeights()
	for k, v := range c.PluginWeights {
		w[k] = v
	}
	return w
}

// numFeasibleNodesToFind is how many feasible nodes a cycle looks for before it
// stops filtering: all of a small cluster, and for big ones a share that shrinks as
// the cluster grows (50% minus 1% per 125 nodes, at least 5%, at least 100 nodes),
// since past a point more candidates do not give better placements.
func (c *Config) numFeasibleNodesToFind(all int) int {
	const minNodes, minPercent = 100, 5
	if all < minNodes {
		return all
	}
	pct := c.PercentageOfNodesToScore
	if pct == 0 {
		pct = max(50-all/125, minPercent)
	}
	if pct >= 100 {
		return all
	}
	return max(all*pct/100, minNodes)
}
