// Package ephemeral is the ephemeral volume controller: for every generic ephemeral
// volume of a pod (volumes[].ephemeral.volumeClaimTemplate) it creates the claim
// <pod>-<volume> from the template, owned by the pod. The pod waits for that claim
// like for any other (the scheduler and the kubelet read it by name), and the garbage
// collector deletes it with the pod through the owner reference.
package ephemeral

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
)

// Controller creates the claims of pods' generic ephemeral volumes.
type Controller struct {
	client kubernetes.Interface
	pods   corelisters.PodLister
	claims corelisters.PersistentVolumeClaimLister
	rec    record.EventRecorder
	queue  *controller.Controller
}

// New returns the ephemeral volume controller.
func New(c *controller.Context) *Controller {
	pi, ci := c.Informers.Core().V1().Pods(), c.Informers.Core().V1().PersistentVolumeClaims()
	ec := &Controller{client: c.Client, pods: pi.Lister(), claims: ci.Lister(),
		rec: c.Recorder("ephemeral-volume-controller")}
	ec.queue = controller.New("ephemeral-volume", ec.sync, 2)
	ec.queue.Watch(pi.Informer(), controller.Each(ec.podChanged))
	// A deleted claim whose pod still runs is made again.
	ec.queue.Watch(ci.Informer(), controller.Each(ec.claimChanged))
	return ec
}

// Run works the queue until ctx ends.
func (ec *Controller) Run(ctx context.Context) { ec.queue.Run(ctx) }

func (ec *Controller) podChanged(obj any) {
	if pod, ok := controller.Unwrap[*corev1.Pod](obj); ok && hasEphemeral(pod) {
		ec.queue.Enqueue(pod)
	}
}

func (ec *Controller) claimChanged(obj any) {
	pvc, ok := controller.Unwrap[*corev1.PersistentVolumeClaim](obj)
	if !ok {
		return
	}
	if key, ok := controller.ControllerKey(pvc, "Pod"); ok {
		ec.queue.Queue.Add(key)
	}
}

func hasEphemeral(pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.Ephemeral != nil {
			return true
		}
	}
	return false
}

// ClaimName is the name of the claim of a pod's generic ephemeral volume.
func ClaimName(pod *corev1.Pod, volume string) string { return pod.Name + "-" + volume }

func (ec *Controller) sync(ctx context.Context, key string) error {
	pod, found, err := controller.Get(key, ec.pods.Pods)
	if !found || err != nil {
		return err
	}
	// A pod on its way out needs no new claims; one that finished keeps its own.
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil
	}
	for _, v := range pod.Spec.Volumes {
		if v.Ephemeral == nil || v.Ephemeral.VolumeClaimTemplate == nil {
			continue
		}
		if err := ec.ensureClaim(ctx, pod, v.Name, v.Ephemeral.VolumeClaimTemplate); err != nil {
			return err
		}
	}
	return nil
}

// ensureClaim creates the volume's claim unless it exists. A claim of that name that
// the pod does not own is never used: the pod waits, and an event says why.
func (ec *Controller) ensureClaim(ctx context.Context, pod *corev1.Pod, volume string, t *corev1.PersistentVolumeClaimTemplate) error {
	name := ClaimName(pod, volume)
	existing, err := ec.claims.PersistentVolumeClaims(pod.Namespace).Get(name)
	if err == nil {
		if !metav1.IsControlledBy(existing, pod) {
			ec.rec.Eventf(pod, corev1.EventTypeWarning, "FailedBinding",
				"PVC %s/%s was not created for pod %s/%s (pod is not owner)", pod.Namespace, name, pod.Namespace, pod.Name)
		}
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return err
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: pod.Namespace,
			Labels: t.Labels, Annotations: t.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(pod, corev1.SchemeGroupVersion.WithKind("Pod"))},
		},
		Spec: t.Spec,
	}
	_, err = ec.client.CoreV1().PersistentVolumeClaims(pod.Namespace).Create(ctx, pvc, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil // the informer has not seen it yet; the next event re-checks the owner
	}
	if err != nil {
		ec.rec.Eventf(pod, corev1.EventTypeWarning, "FailedCreate", "creating PVC %s for ephemeral volume %q: %v", name, volume, err)
		return fmt.Errorf("creating claim %s/%s: %w", pod.Namespace, name, err)
	}
	return nil
}
