package memtune

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// span is one mapping of the executable that holds no private data.
type span struct{ start, end uintptr }

// binarySpans lists the mappings in maps (the format of /proc/self/maps) of
// the file exe that are read-only and private: the code and the read-only data
// (type data, the function table the GC walks, embedded files). The writable
// data mapping is left out: its pages may be the process's own copies.
func binarySpans(maps io.Reader, exe string) ([]span, error) {
	var spans []span
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		// start-end perms offset dev inode path (the path may hold spaces)
		f := strings.SplitN(sc.Text(), " ", 6)
		if len(f) < 6 || f[1] != "r--p" && f[1] != "r-xp" || strings.TrimLeft(f[5], " ") != exe {
			continue
		}
		from, to, _ := strings.Cut(f[0], "-")
		s, err1 := strconv.ParseUint(from, 16, 64)
		e, err2 := strconv.ParseUint(to, 16, 64)
		if err1 != nil || err2 != nil || e <= s {
			return nil, fmt.Errorf("bad mapping %q", sc.Text())
		}
		spans = append(spans, span{uintptr(s), uintptr(e)})
	}
	return spans, sc.Err()
}

// releaseBinaryPages unmaps the executable's read-only pages from the process.
// Go maps the whole binary (about 100 MB) and start-up touches much of it:
// every package's init, the type data of every registered API kind, the
// built-in OpenAPI definitions. Most of that is never used again, yet it
// stays mapped and counted in the process's RSS. The pages stay in the page
// cache (clean, reclaimable, shared with any other skiff process); the few the
// process still uses come back on their next touch as minor faults.
func releaseBinaryPages() error {
	// The kernel names the executable here as it does in maps.
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return err
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return err
	}
	defer f.Close()
	spans, err := binarySpans(f, exe)
	if err != nil {
		return err
	}
	for _, s := range spans {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, s.start, s.end-s.start, unix.MADV_DONTNEED); errno != 0 {
			return fmt.Errorf("madvise %#x-%#x: %w", s.start, s.end, errno)
		}
	}
	return nil
}
