package kubelet

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"skiff/internal/kubelet/server"
	"skiff/internal/kubelet/stats"
)

// statsInterval is how often container and node usage is sampled, as the kubelet's
// housekeeping does.
const statsInterval = 10 * time.Second

// startStats samples usage for /stats/summary (which the API server turns into
// metrics.k8s.io) and for the eviction manager.
func (k *Kubelet) startStats(ctx context.Context, srv *server.Server) {
	src := stats.CRISource{Runtime: k.rt.Runtime, Selector: k.nodeSelector(),
		NodeSource: stats.NodeSource{CgroupRoot: cgroupRoot, ProcRoot: "/proc", FsPath: k.cfg.RootDir}}
	k.stats = stats.NewCollector(src, k.cfg.NodeName, statsInterval)
	k.stats.OnSample(func(s *stats.Summary) { k.eviction.observe(ctx, s) })
	srv.Handle("GET /stats/summary", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s := k.stats.Latest()
		if s == nil {
			http.Error(w, "no stats sampled yet", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	}))
	k.metrics.serve(srv)
	go k.stats.Run(ctx)
}
