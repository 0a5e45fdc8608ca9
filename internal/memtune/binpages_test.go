package memtune

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestBinarySpans(t *testing.T) {
	maps := `00400000-03088000 r-xp 00000000 fe:00 9986126                            /opt/my skiff/skiff
03088000-06582000 r--p 02c88000 fe:00 9986126                            /opt/my skiff/skiff
06582000-06671000 rw-p 06182000 fe:00 9986126                            /opt/my skiff/skiff
06671000-066a0000 rw-p 00000000 00:00 0 
7f0000000000-7f0000001000 r--p 00000000 fe:00 12                         /opt/my skiff/skiff.old
7f0000001000-7f0000002000 r--s 00000000 fe:00 9986126                    /opt/my skiff/skiff
7ffd1000-7ffd3000 r-xp 00000000 00:00 0                                  [vdso]
`
	got, err := binarySpans(strings.NewReader(maps), "/opt/my skiff/skiff")
	if err != nil {
		t.Fatal(err)
	}
	want := []span{{0x400000, 0x3088000}, {0x3088000, 0x6582000}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("binarySpans = %#v, want %#v", got, want)
	}
}

// The test binary's own code is found, unmapped and still runs afterwards.
func TestReleaseBinaryPages(t *testing.T) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	spans, err := binarySpans(f, exe)
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) < 2 {
		t.Fatalf("found %d read-only mappings of %s, want code and read-only data", len(spans), exe)
	}
	before := rssFileKB(t)
	if err := releaseBinaryPages(); err != nil {
		t.Fatal(err)
	}
	if after := rssFileKB(t); after >= before {
		t.Errorf("RssFile %d kB after releasing the binary's pages, %d kB before", after, before)
	}
	if !small(1) { // runs code that was unmapped
		t.Fatal("small(1) = false")
	}
}

func rssFileKB(t *testing.T) int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			var kb int
			if _, err := fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(v, "kB")), &kb); err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}
