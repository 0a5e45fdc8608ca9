package clusterautoscaler

import (
	"context"
	"strconv"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"skiff/internal/nodepool"
)

// controllerClient is the autoscaler's writes: the node group protocol, taints,
// evictions and the status ConfigMap.
type controllerClient struct{ kubernetes.Interface }

func (c controllerClient) poolsConfigMap(ctx context.Context) (*v1.ConfigMap, error) {
	return c.CoreV1().ConfigMaps(nodepool.Namespace).Get(ctx, nodepool.ConfigMapName, metav1.GetOptions{})
}

// setDesired writes a pool's target size in one update.
func (c controllerClient) setDesired(ctx context.Context, pool string, n int) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := c.poolsConfigMap(ctx)
		if err != nil {
			return err
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[nodepool.DesiredPrefix+pool] = strconv.Itoa(n)
		_, err = c.CoreV1().ConfigMaps(nodepool.Namespace).Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
}

// taint adds (or with on false, removes) the to-be-deleted taint.
func (c controllerClient) taint(ctx context.Context, node string, on bool) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := c.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var taints []v1.Taint
		for _, t := range n.Spec.Taints {
			if t.Key != nodepool.ToBeDeletedTaint {
				taints = append(taints, t)
			}
		}
		if on {
			taints = append(taints, v1.Taint{Key: nodepool.ToBeDeletedTaint, Effect: v1.TaintEffectNoSchedule,
				Value: strconv.FormatInt(metav1.Now().Unix(), 10)})
		}
		n.Spec.Taints = taints
		_, err = c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

// evict asks the eviction API to remove a pod; a pod already gone is fine.
func (c controllerClient) evict(ctx context.Context, p *v1.Pod) error {
	err := c.PolicyV1().Evictions(p.Namespace).Evict(ctx, &policyv1.Eviction{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// writeStatus creates or replaces the status ConfigMap.
func (c controllerClient) writeStatus(ctx context.Context, text string) error {
	cms := c.CoreV1().ConfigMaps(nodepool.Namespace)
	cm, err := cms.Get(ctx, statusConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, &v1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: statusConfigMap, Namespace: nodepool.Namespace},
			Data:       map[string]string{"status": text}}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	cm.Data = map[string]string{"status": text}
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	return err
}
