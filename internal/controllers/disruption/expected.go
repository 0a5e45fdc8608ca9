package disruption

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// expectedAndDesired returns how many pods the budget covers and how many of them must
// stay healthy. An absolute minAvailable counts the pods that exist; a percentage or a
// maxUnavailable is taken of the replicas their controllers want, so that pods not yet
// created still count.
func (s *syncer) expectedAndDesired(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod) (expected, desired int32, err error) {
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		if expected, err = s.controllerScale(pods); err != nil {
			return 0, 0, err
		}
		maxUnavailable, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(expected), true)
		if err != nil {
			return 0, 0, err
		}
		return expected, max(expected-int32(maxUnavailable), 0), nil
	case pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.Int:
		return int32(len(pods)), pdb.Spec.MinAvailable.IntVal, nil
	case pdb.Spec.MinAvailable != nil:
		if expected, err = s.controllerScale(pods); err != nil {
			return 0, 0, err
		}
		minAvailable, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(expected), true)
		if err != nil {
			return 0, 0, err
		}
		return expected, int32(minAvailable), nil
	}
	return 0, 0, nil
}

// controllerScale sums the desired replicas of the distinct controllers of pods.
func (s *syncer) controllerScale(pods []*corev1.Pod) (int32, error) {
	scales := map[types.UID]int32{}
	for _, p := range pods {
		ref := metav1.GetControllerOf(p)
		if ref == nil {
			return 0, fmt.Errorf("pod %s/%s has no controller, so a percentage or maxUnavailable has nothing to count against", p.Namespace, p.Name)
		}
		if _, ok := scales[ref.UID]; ok {
			continue
		}
		uid, n, err := s.scaleOf(p.Namespace, ref)
		if err != nil {
			return 0, err
		}
		scales[uid] = n
	}
	var sum int32
	for _, n := range scales {
		sum += n
	}
	return sum, nil
}

// scaleOf returns the controller that decides the pod count (a Deployment rather than
// its ReplicaSet) and its desired replicas.
func (s *syncer) scaleOf(ns string, ref *metav1.OwnerReference) (types.UID, int32, error) {
	switch ref.Kind {
	case "ReplicaSet":
		rs, err := s.scales.rs.ReplicaSets(ns).Get(ref.Name)
		if err != nil || rs.UID != ref.UID {
			return "", 0, fmt.Errorf("replica set %s/%s: %v", ns, ref.Name, notFound(err))
		}
		if d := metav1.GetControllerOf(rs); d != nil && d.Kind == "Deployment" {
			dep, err := s.scales.deploy.Deployments(ns).Get(d.Name)
			if err == nil && dep.UID == d.UID {
				return dep.UID, replicas(dep.Spec.Replicas), nil
			}
		}
		return rs.UID, replicas(rs.Spec.Replicas), nil
	case "StatefulSet":
		sts, err := s.scales.sts.StatefulSets(ns).Get(ref.Name)
		if err != nil || sts.UID != ref.UID {
			return "", 0, fmt.Errorf("stateful set %s/%s: %v", ns, ref.Name, notFound(err))
		}
		return sts.UID, replicas(sts.Spec.Replicas), nil
	case "ReplicationController":
		rc, err := s.scales.rc.ReplicationControllers(ns).Get(ref.Name)
		if err != nil || rc.UID != ref.UID {
			return "", 0, fmt.Errorf("replication controller %s/%s: %v", ns, ref.Name, notFound(err))
		}
		return rc.UID, replicas(rc.Spec.Replicas), nil
	}
	return "", 0, fmt.Errorf("pods controlled by a %s have no known replica count", ref.Kind)
}

func notFound(err error) error {
	if err == nil {
		return fmt.Errorf("not found with the referenced UID")
	}
	return err
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}
