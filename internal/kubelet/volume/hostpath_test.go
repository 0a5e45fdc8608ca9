package volume

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCheckHostPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name    string
		path    string
		typ     corev1.HostPathType
		wantErr string
		created bool
	}{
		{"unset, missing is fine", missing, corev1.HostPathUnset, "", false},
		{"DirectoryOrCreate creates", filepath.Join(dir, "new", "deep"), corev1.HostPathDirectoryOrCreate, "", true},
		{"DirectoryOrCreate on a file", file, corev1.HostPathDirectoryOrCreate, "is not a directory", false},
		{"Directory exists", dir, corev1.HostPathDirectory, "", false},
		{"Directory missing", missing, corev1.HostPathDirectory, "does not exist", false},
		{"FileOrCreate creates", filepath.Join(dir, "sub", "f"), corev1.HostPathFileOrCreate, "", true},
		{"FileOrCreate on a dir", dir, corev1.HostPathFileOrCreate, "is not a file", false},
		{"File", file, corev1.HostPathFile, "", false},
		{"File on a dir", dir, corev1.HostPathFile, "is not a file", false},
		{"Socket", sock, corev1.HostPathSocket, "", false},
		{"Socket on a file", file, corev1.HostPathSocket, "is not a socket", false},
		{"CharDevice", "/dev/null", corev1.HostPathCharDev, "", false},
		{"BlockDevice on a char device", "/dev/null", corev1.HostPathBlockDev, "is not a block device", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := tt.typ
			err := CheckHostPath(tt.path, &typ)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if _, serr := os.Stat(tt.path); tt.created && serr != nil {
				t.Errorf("%s was not created", tt.path)
			}
		})
	}
}
