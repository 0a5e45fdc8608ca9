package imageview

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
)

// verboseInfo is the part of a verbose CRI ImageStatus answer that names the image's
// layers: containerd (1.6 and later) puts the image's OCI config under "info".
type verboseInfo struct {
	ImageSpec struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	} `json:"imageSpec"`
}

// diffIDs reads the image's layer diff IDs, bottom first, from a verbose ImageStatus
// info map.
func diffIDs(info map[string]string) ([]string, error) {
	raw, ok := info["info"]
	if !ok {
		return nil, errors.New("the runtime's image status has no verbose info (is it containerd?)")
	}
	var v verboseInfo
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return nil, fmt.Errorf("the runtime's verbose image info: %w", err)
	}
	return v.ImageSpec.RootFS.DiffIDs, nil
}

// chainID is the identity of the image's layers applied in order, which is the key
// under which containerd's snapshotter keeps the image's unpacked top layer.
func chainID(diffIDs []string) (string, error) {
	if len(diffIDs) == 0 {
		return "", errors.New("the image has no layers")
	}
	ds := make([]digest.Digest, len(diffIDs))
	for i, s := range diffIDs {
		d, err := digest.Parse(s)
		if err != nil {
			return "", fmt.Errorf("layer %d diff ID %q: %w", i, s, err)
		}
		ds[i] = d
	}
	return identity.ChainID(ds).String(), nil
}

// defaultSnapshotter is containerd's default, and the one skiff's containerd uses.
const defaultSnapshotter = "overlayfs"

// snapshotter is the snapshotter the CRI plugin unpacks images into, from the
// configuration a verbose CRI Status answer carries.
func snapshotter(info map[string]string) string {
	var c struct {
		Containerd struct {
			Snapshotter string `json:"snapshotter"`
		} `json:"containerd"`
	}
	if json.Unmarshal([]byte(info["config"]), &c) != nil || c.Containerd.Snapshotter == "" {
		return defaultSnapshotter
	}
	return c.Containerd.Snapshotter
}
