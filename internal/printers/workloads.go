package printers

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// addWorkloads registers the controllers that own pods: apps/v1 and the core
// ReplicationController.
func addWorkloads(m map[schema.GroupKind]*Printer) {
	deploymentStatusDoc := appsv1.DeploymentStatus{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Ready", typeString, "Ready pods out of desired replicas."),
		col("Up-to-date", typeString, deploymentStatusDoc["updatedReplicas"]),
		col("Available", typeString, deploymentStatusDoc["availableReplicas"]),
		ageColumn(),
		containersColumn(), imagesColumn(),
		selectorColumn(appsv1.DeploymentSpec{}.SwaggerDoc()["selector"]),
	}, deploymentRow), "apps", "Deployment")

	rsSpecDoc, rsStatusDoc := appsv1.ReplicaSetSpec{}.SwaggerDoc(), appsv1.ReplicaSetStatus{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Desired", typeInteger, rsSpecDoc["replicas"]),
		col("Current", typeInteger, rsStatusDoc["replicas"]),
		col("Ready", typeInteger, rsStatusDoc["readyReplicas"]),
		ageColumn(),
		containersColumn(), imagesColumn(), selectorColumn(rsSpecDoc["selector"]),
	}, func(rs *appsv1.ReplicaSet, now time.Time) []interface{} {
		names, images := containerCells(rs.Spec.Template.Spec.Containers)
		return []interface{}{rs.Name, int64(int32Value(rs.Spec.Replicas)), int64(rs.Status.Replicas),
			int64(rs.Status.ReadyReplicas), age(now, rs.CreationTimestamp),
			names, images, metav1.FormatLabelSelector(rs.Spec.Selector)}
	}), "apps", "ReplicaSet")

	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Ready", typeString, "Ready pods out of desired replicas."),
		ageColumn(),
		containersColumn(), imagesColumn(),
	}, func(ss *appsv1.StatefulSet, now time.Time) []interface{} {
		names, images := containerCells(ss.Spec.Template.Spec.Containers)
		return []interface{}{ss.Name, fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, int32Value(ss.Spec.Replicas)),
			age(now, ss.CreationTimestamp), names, images}
	}), "apps", "StatefulSet")

	dsStatusDoc := appsv1.DaemonSetStatus{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Desired", typeInteger, dsStatusDoc["desiredNumberScheduled"]),
		col("Current", typeInteger, dsStatusDoc["currentNumberScheduled"]),
		col("Ready", typeInteger, dsStatusDoc["numberReady"]),
		col("Up-to-date", typeInteger, dsStatusDoc["updatedNumberScheduled"]),
		col("Available", typeInteger, dsStatusDoc["numberAvailable"]),
		col("Node Selector", typeString, corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]),
		ageColumn(),
		containersColumn(), imagesColumn(), selectorColumn(appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"]),
	}, func(ds *appsv1.DaemonSet, now time.Time) []interface{} {
		names, images := containerCells(ds.Spec.Template.Spec.Containers)
		st := ds.Status
		return []interface{}{ds.Name, int64(st.DesiredNumberScheduled), int64(st.CurrentNumberScheduled),
			int64(st.NumberReady), int64(st.UpdatedNumberScheduled), int64(st.NumberAvailable),
			labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector), age(now, ds.CreationTimestamp),
			names, images, metav1.FormatLabelSelector(ds.Spec.Selector)}
	}), "apps", "DaemonSet")

	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Controller", typeString, "The object that owns this revision."),
		col("Revision", typeString, appsv1.ControllerRevision{}.SwaggerDoc()["revision"]),
		ageColumn(),
	}, func(cr *appsv1.ControllerRevision, now time.Time) []interface{} {
		return []interface{}{cr.Name, controllerName(cr), cr.Revision, age(now, cr.CreationTimestamp)}
	}), "apps", "ControllerRevision")

	rcSpecDoc, rcStatusDoc := corev1.ReplicationControllerSpec{}.SwaggerDoc(), corev1.ReplicationControllerStatus{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Desired", typeInteger, rcSpecDoc["replicas"]),
		col("Current", typeInteger, rcStatusDoc["replicas"]),
		col("Ready", typeInteger, rcStatusDoc["readyReplicas"]),
		ageColumn(),
		containersColumn(), imagesColumn(), selectorColumn(rcSpecDoc["selector"]),
	}, func(rc *corev1.ReplicationController, now time.Time) []interface{} {
		var containers []corev1.Container
		if rc.Spec.Template != nil {
			containers = rc.Spec.Template.Spec.Containers
		}
		names, images := containerCells(containers)
		return []interface{}{rc.Name, int64(int32Value(rc.Spec.Replicas)), int64(rc.Status.Replicas),
			int64(rc.Status.ReadyReplicas), age(now, rc.CreationTimestamp),
			names, images, labels.FormatLabels(rc.Spec.Selector)}
	}), "", "ReplicationController")
}

func deploymentRow(d *appsv1.Deployment, now time.Time) []interface{} {
	// An unparsable selector cannot be stored, but say so rather than print nothing.
	selector := "<invalid>"
	if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
		selector = s.String()
	}
	names, images := containerCells(d.Spec.Template.Spec.Containers)
	return []interface{}{
		d.Name,
		fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, int32Value(d.Spec.Replicas)),
		int64(d.Status.UpdatedReplicas),
		int64(d.Status.AvailableReplicas),
		age(now, d.CreationTimestamp),
		names, images, selector,
	}
}

// controllerName is "kind.group/name" of the controlling owner, e.g.
// "statefulset.apps/web", the way kubectl names objects.
func controllerName(obj metav1.Object) string {
	ref := metav1.GetControllerOf(obj)
	if ref == nil {
		return none
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		// Validation keeps such owner references out of storage; show the bare name
		// rather than fail the whole table.
		return ref.Name
	}
	gk := schema.GroupKind{Group: gv.Group, Kind: ref.Kind}
	if gk.Empty() {
		return ref.Name
	}
	return strings.ToLower(gk.String()) + "/" + ref.Name
}
