package scheduler

import (
	"k8s.io/apimachinery/pkg/types"

	fw "skiff/internal/scheduler/framework"
)

// The queue remembers which pods were nominated to which node by preemption, so
// that while the victims terminate, other pods of lower priority do not take the
// room that was freed for the preemptor.

func (q *Queue) syncNominationLocked(pi *fw.PodInfo) {
	node := pi.Pod.Status.NominatedNodeName
	if node == "" || pi.Pod.Spec.NodeName != "" {
		q.deleteNominationLocked(pi.Pod.UID)
		return
	}
	q.setNominationLocked(pi, node)
}

func (q *Queue) setNominationLocked(pi *fw.PodInfo, node string) {
	q.deleteNominationLocked(pi.Pod.UID)
	q.nominatedNode[pi.Pod.UID] = node
	q.nominated[node] = append(q.nominated[node], pi)
}

func (q *Queue) deleteNominationLocked(uid types.UID) {
	node, ok := q.nominatedNode[uid]
	if !ok {
		return
	}
	delete(q.nominatedNode, uid)
	list := q.nominated[node]
	for i, p := range list {
		if p.Pod.UID == uid {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(q.nominated, node)
	} else {
		q.nominated[node] = list
	}
}

// Nominate records that pi should go to node once its victims are gone.
func (q *Queue) Nominate(pi *fw.PodInfo, node string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.setNominationLocked(pi, node)
}

// ClearNomination drops pod uid's nomination (it was bound or deleted).
func (q *Queue) ClearNomination(uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deleteNominationLocked(uid)
}

// NominatedPods returns a copy of the node -> nominated pods map, taken once per
// scheduling cycle; it is usually empty.
func (q *Queue) NominatedPods() map[string][]*fw.PodInfo {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.nominated) == 0 {
		return nil
	}
	out := make(map[string][]*fw.PodInfo, len(q.nominated))
	for k, v := range q.nominated {
		out[k] = append([]*fw.PodInfo(nil), v...)
	}
	return out
}
