package node_test

import (
	"testing"
	"time"
)

// TestAgentRestartLeavesPodsRunning restarts the server, and with it the local agent:
// the container keeps running (same container ID, no restart). Image volumes share
// the restart (see imageVolumeAcrossRestart).
func TestAgentRestartLeavesPodsRunning(t *testing.T) {
	n := ns(t, "restart")
	cluster.MustKubectl(t, "-n", n, "run", "steady", "--image="+toolbox, "--", "/toolbox", "sleep", "infinity")
	running(t, n, "steady")
	imageVolumeChecks := imageVolumeAcrossRestart(t, n)
	id := get(t, n, "steady", "{.status.containerStatuses[0].containerID}")
	if err := cluster.Restart(false); err != nil {
		t.Fatal(err)
	}
	if err := cluster.WaitNodeReady("e2e-main"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // let the agent relist
	if got := get(t, n, "steady", "{.status.containerStatuses[0].containerID}"); got != id {
		t.Fatalf("container ID %s became %s after the agent restarted", id, got)
	}
	if rc := get(t, n, "steady", "{.status.containerStatuses[0].restartCount}"); rc != "0" {
		t.Fatalf("restartCount = %s after agent restart", rc)
	}
	imageVolumeChecks()
}
