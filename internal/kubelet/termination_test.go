package kubelet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff/internal/kubelet/cri"
)

func TestReadTerminationMessage(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	msgFile := write("msg", "DONE")
	empty := write("empty", "")
	big := write("big", strings.Repeat("x", 5000))
	pad := strings.Repeat("y", 30) // 80 lines of 40 bytes pass the 2048-byte cut
	var logLines strings.Builder
	for i := range 100 {
		fmt.Fprintf(&logLines, "2026-12-07T05:00:00.000000000Z stdout F line %03d %s\n", i, pad)
	}
	logFile := write("log", logLines.String())
	status := func(hostPath, policy string, exit int32) *runtimeapi.ContainerStatus {
		return &runtimeapi.ContainerStatus{ExitCode: exit, LogPath: logFile,
			Annotations: map[string]string{cri.AnnotationTerminationMessagePath: "/dev/termination-log", cri.AnnotationTerminationMessagePolicy: policy},
			Mounts:      []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: dir}, {ContainerPath: "/dev/termination-log", HostPath: hostPath}}}
	}
	var tail strings.Builder
	for i := 20; i < 100; i++ {
		fmt.Fprintf(&tail, "line %03d %s\n", i, pad)
	}
	wantTail := tail.String()
	wantTail = wantTail[len(wantTail)-2048:]
	for _, tc := range []struct {
		name string
		st   *runtimeapi.ContainerStatus
		want string
	}{
		{"file", status(msgFile, "File", 0), "DONE"},
		{"file wins over logs", status(msgFile, "FallbackToLogsOnError", 1), "DONE"},
		{"empty file, File policy", status(empty, "File", 1), ""},
		{"empty file, fallback on success", status(empty, "FallbackToLogsOnError", 0), ""},
		{"empty file, fallback on failure", status(empty, "FallbackToLogsOnError", 2), wantTail},
		{"cut to 4096 bytes", status(big, "File", 0), strings.Repeat("x", 4096)},
		{"no annotation (created before)", &runtimeapi.ContainerStatus{ExitCode: 1}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := readTerminationMessage(tc.st); got != tc.want {
				t.Errorf("message = %q (%d bytes), want %q (%d bytes)", got, len(got), tc.want, len(tc.want))
			}
		})
	}
}
