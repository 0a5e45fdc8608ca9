package imageview

import (
	"reflect"
	"strings"
	"testing"

	ctrdtypes "github.com/containerd/containerd/api/types"
	"golang.org/x/sys/unix"
)

func TestPlan(t *testing.T) {
	long := "lowerdir=" + strings.Repeat("/x", 2100)
	for _, tc := range []struct {
		name    string
		mounts  []*ctrdtypes.Mount
		want    []mountCall
		wantErr string
	}{{
		name:   "one layer: a bind, then a read-only remount",
		mounts: []*ctrdtypes.Mount{{Type: "bind", Source: "/c/snapshots/7/fs", Options: []string{"ro", "rbind"}}},
		want: []mountCall{
			{Source: "/c/snapshots/7/fs", Flags: unix.MS_BIND | unix.MS_REC},
			{Flags: unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY},
		},
	}, {
		name:   "a writable bind is made read-only all the same",
		mounts: []*ctrdtypes.Mount{{Type: "bind", Source: "/s", Options: []string{"rw", "bind", "nosuid", "nodev"}}},
		want: []mountCall{
			{Source: "/s", Flags: unix.MS_BIND | unix.MS_NOSUID | unix.MS_NODEV},
			{Flags: unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV},
		},
	}, {
		name:   "layers: an overlay without an upper directory, read-only",
		mounts: []*ctrdtypes.Mount{{Type: "overlay", Source: "overlay", Options: []string{"index=off", "lowerdir=/s/9/fs:/s/8/fs"}}},
		want:   []mountCall{{Source: "overlay", FSType: "overlay", Flags: unix.MS_RDONLY, Data: "index=off,lowerdir=/s/9/fs:/s/8/fs"}},
	}, {
		name:    "no mount",
		wantErr: "gave 0 mounts",
	}, {
		name:    "two mounts",
		mounts:  []*ctrdtypes.Mount{{Type: "bind", Source: "/a"}, {Type: "bind", Source: "/b"}},
		wantErr: "gave 2 mounts",
	}, {
		name:    "options longer than a page",
		mounts:  []*ctrdtypes.Mount{{Type: "overlay", Source: "overlay", Options: []string{long}}},
		wantErr: "too many layers",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := plan(tc.mounts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("plan = %+v, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("plan = %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}
