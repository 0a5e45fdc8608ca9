package csi

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// A publication is also kept as a file beside its target (vol_data.json in the
// volume's directory of the pod, as the kubelet keeps one), so that the agent
// knows after a restart what it published and staged: a pod still running is not
// published again, and one deleted meanwhile is unpublished and its volume
// unstaged through the driver, not merely unmounted with the staging left behind.

const recordFile = "vol_data.json"

// publicationRecord is a publication as written to disk.
type publicationRecord struct {
	Volume  string `json:"volume"`
	Driver  string `json:"driver"`
	Handle  string `json:"handle"`
	Target  string `json:"target"`
	Staging string `json:"staging,omitempty"`
}

// isMounted says whether a target is still mounted; a variable for the tests,
// whose fake driver mounts nothing.
var isMounted = isMountPoint

func recordPath(target string) string { return filepath.Join(filepath.Dir(target), recordFile) }

// save writes p's record, replacing any file there in one step.
func save(p publication) {
	data, _ := json.Marshal(publicationRecord{Volume: p.volume, Driver: p.driver, Handle: p.handle, Target: p.target, Staging: p.staging})
	path := recordPath(p.target)
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, data, 0o600)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		slog.Warn("csi: recording a publication; after an agent restart it will be published again", "target", p.target, "err", err)
	}
}

func drop(p publication) {
	if err := os.Remove(recordPath(p.target)); err != nil && !os.IsNotExist(err) {
		slog.Warn("csi: removing a publication's record", "target", p.target, "err", err)
	}
}

// restore reads the publications recorded under the pods' directories. One whose
// target is no longer mounted (the node rebooted) is forgotten: the pod's next
// sync publishes it again.
func (n *Node) restore() {
	paths, _ := filepath.Glob(filepath.Join(n.root, "pods", "*", "volumes", "kubernetes.io~csi", "*", recordFile))
	restored := 0
	for _, path := range paths {
		rel, _ := filepath.Rel(filepath.Join(n.root, "pods"), path)
		uid, _, _ := strings.Cut(rel, string(filepath.Separator))
		var r publicationRecord
		data, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(data, &r)
		}
		if err != nil || !isMounted(r.Target) {
			_ = os.Remove(path)
			continue
		}
		n.published[uid] = append(n.published[uid], publication{volume: r.Volume, driver: r.Driver, handle: r.Handle, target: r.Target, staging: r.Staging})
		restored++
	}
	if restored > 0 {
		slog.Info("csi: publications restored", "count", restored)
	}
}
