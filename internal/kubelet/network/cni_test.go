package network

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestCNIConfig(t *testing.T) {
	data, err := CNIConfig(CNIOptions{Node: "n1", PodCIDRs: []string{"10.42.3.0/24"}, IPAMDir: "/d/ipam", HairpinOn: true})
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Name    string `json:"name"`
		Plugins []struct {
			Type      string `json:"type"`
			Bridge    string `json:"bridge"`
			IsGateway bool   `json:"isGateway"`
			IPMasq    bool   `json:"ipMasq"`
			IPAM      struct {
				Type    string                `json:"type"`
				DataDir string                `json:"dataDir"`
				Ranges  [][]map[string]string `json:"ranges"`
			} `json:"ipam"`
			Capabilities map[string]bool `json:"capabilities"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(data, &conf); err != nil {
		t.Fatal(err)
	}
	br, pm := conf.Plugins[0], conf.Plugins[1]
	if br.Type != "bridge" || br.Bridge != BridgeName("n1") || !br.IsGateway || br.IPMasq {
		t.Errorf("bridge plugin %+v: want this node's bridge, gateway, no masquerade", br)
	}
	if br.IPAM.Type != "host-local" || br.IPAM.DataDir != "/d/ipam" || br.IPAM.Ranges[0][0]["subnet"] != "10.42.3.0/24" {
		t.Errorf("ipam %+v", br.IPAM)
	}
	if pm.Type != "portmap" || !pm.Capabilities["portMappings"] {
		t.Errorf("portmap plugin %+v", pm)
	}
	if conf.Name == "" || len(BridgeName("a-very-long-node-name.example.com")) > 15 || BridgeName("n1") == BridgeName("n2") {
		t.Errorf("names: network %q, bridge names must be distinct and fit 15 characters", conf.Name)
	}
	if _, err := CNIConfig(CNIOptions{Node: "n1"}); err == nil {
		t.Error("config without a pod CIDR accepted")
	}
}

func TestWriteCNIConfigOnce(t *testing.T) {
	dir := t.TempDir()
	wrote, err := WriteCNIConfig(dir, CNIOptions{Node: "n1", PodCIDRs: []string{"10.42.0.0/24"}})
	if err != nil || !wrote {
		t.Fatalf("first write: %v %v", wrote, err)
	}
	first, _ := os.ReadFile(filepath.Join(dir, ConfFile))
	wrote, err = WriteCNIConfig(dir, CNIOptions{Node: "n1", PodCIDRs: []string{"10.42.9.0/24"}})
	if err != nil || wrote {
		t.Fatalf("second write: %v %v; the config must never change under running pods", wrote, err)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, ConfFile)); string(again) != string(first) {
		t.Error("config changed")
	}
}

func TestDesiredRoutes(t *testing.T) {
	nodes := map[string]NodeNet{
		"self":   {IP: "192.0.2.1", PodCIDRs: []string{"10.42.0.0/24"}},
		"remote": {IP: "192.0.2.2", PodCIDRs: []string{"10.42.1.0/24"}},
		"local":  {IP: "127.0.0.1", PodCIDRs: []string{"10.42.2.0/24"}},
		"new":    {IP: "192.0.2.3"},
	}
	got := DesiredRoutes("self", nodes, func(ip string) bool { return ip == "127.0.0.1" })
	if len(got) != 1 || got[0] != (Route{CIDR: "10.42.1.0/24", Gateway: "192.0.2.2"}) {
		t.Errorf("routes %v, want only the remote node's CIDR via its IP", got)
	}
}
