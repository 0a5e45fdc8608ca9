package attachdetach

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

// TestReportErrors: an attach error is told once to each pod waiting for the
// attachment; the same error again is not, a new one (a retry's) is, and an
// attached or error-free attachment tells nothing.
func TestReportErrors(t *testing.T) {
	rec := record.NewFakeRecorder(10)
	ad := &Controller{rec: rec, reported: map[string]metav1.Time{}}
	pods := []*corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}}, {ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "b"}}}
	va := func(name string, at time.Time, attached bool) *storagev1.VolumeAttachment {
		v := &storagev1.VolumeAttachment{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:   storagev1.VolumeAttachmentSpec{Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr.To("pv-" + name)}},
			Status: storagev1.VolumeAttachmentStatus{Attached: attached}}
		if !at.IsZero() {
			v.Status.AttachError = &storagev1.VolumeError{Time: metav1.NewTime(at), Message: "ControllerPublishVolume: broken"}
		}
		return v
	}
	users := map[string][]*corev1.Pod{"x": pods, "ok": pods[:1]}
	t0 := time.Now().Truncate(time.Second)
	steps := []struct {
		have []*storagev1.VolumeAttachment
		want int
	}{
		{[]*storagev1.VolumeAttachment{va("x", t0, false), va("ok", time.Time{}, false)}, 2},
		{[]*storagev1.VolumeAttachment{va("x", t0, false)}, 0},
		{[]*storagev1.VolumeAttachment{va("x", t0.Add(time.Second), false)}, 2},
		{[]*storagev1.VolumeAttachment{va("x", t0.Add(2*time.Second), true)}, 0},
	}
	for i, s := range steps {
		ad.reportErrors(s.have, users)
		var got []string
		for len(rec.Events) > 0 {
			got = append(got, <-rec.Events)
		}
		if len(got) != s.want {
			t.Fatalf("step %d: %d events, want %d: %q", i, len(got), s.want, got)
		}
		for _, e := range got {
			if !strings.HasPrefix(e, `Warning FailedAttachVolume AttachVolume.Attach failed for volume "pv-x" : ControllerPublishVolume: broken`) {
				t.Errorf("step %d: event %q", i, e)
			}
		}
	}
	if len(ad.reported) != 0 {
		t.Errorf("an attached volume's error is still remembered: %v", ad.reported)
	}
}
