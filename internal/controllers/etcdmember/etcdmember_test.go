package etcdmember

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDecide(t *testing.T) {
	now := metav1.Now()
	node := func(deleting, final bool) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "s2"}}
		if deleting {
			n.DeletionTimestamp = &now
		}
		if final {
			n.Finalizers = []string{"other", Finalizer}
		}
		return n
	}
	three := []string{"s1", "s2", "s3"}
	for _, c := range []struct {
		name    string
		node    *corev1.Node
		members []string
		want    action
	}{
		{"a server node of a one-member cluster is looked at again later", node(false, false), []string{"s2"}, recheckLater},
		{"a server node of several gets the finalizer", node(false, false), three, addFinalizer},
		{"once", node(false, true), three, nothing},
		{"a node that is no member is left alone", node(false, false), []string{"s1", "s3"}, nothing},
		{"deleted without the finalizer: nothing to hold", node(true, false), three, nothing},
		{"deleted: its member is removed", node(true, true), three, removeMember},
		{"deleted, member already gone: the finalizer goes", node(true, true), []string{"s1", "s3"}, dropFinalizer},
		{"the last member is never removed", node(true, true), []string{"s2"}, dropFinalizer},
	} {
		if got := decide(c.node, c.members); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
