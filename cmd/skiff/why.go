package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"skiff/internal/scheduler"
)

// runWhy explains what keeps a pod from running: why no node fits it, or which
// container is waiting on what, with the pod's recent warnings. With --to, it
// explains instead whether network policies let the pod reach another.
func runWhy(ctx context.Context, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("why", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", defaultKubeconfig(), "kubeconfig of the cluster")
	namespace := fs.String("n", "default", "namespace of the pod")
	to := fs.String("to", "", "[NAMESPACE/]POD: explain whether network policies let the pod reach this one")
	port := fs.Int("port", 0, "with --to: the destination port (default: its first container port)")
	protocol := fs.String("protocol", "TCP", "with --to: TCP, UDP or SCTP")
	_ = fs.Parse(args)
	name := strings.TrimPrefix(strings.TrimPrefix(fs.Arg(0), "pod/"), "pods/")
	_ = fs.Parse(fs.Args()[min(1, fs.NArg()):]) // flags may follow the pod's name
	if fs.NArg() != 0 || name == "" {
		return fmt.Errorf("usage: skiff why [-n NAMESPACE] POD [--to [NAMESPACE/]POD [--port N] [--protocol P]]")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	pod, err := client.CoreV1().Pods(*namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if *to != "" {
		return explainReach(ctx, w, client, pod, *to, int32(*port), corev1.Protocol(strings.ToUpper(*protocol)))
	}
	if pod.Spec.NodeName == "" {
		if err := explainUnscheduled(ctx, w, client, pod); err != nil {
			return err
		}
	} else {
		node, err := client.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			node = nil
		} else if err != nil {
			return err
		}
		explainContainers(w, pod, nodeTrouble(node))
	}
	return recentWarnings(ctx, w, client, pod)
}

// nodeTrouble says why a pod's node cannot vouch for the pod's status ("" if it can):
// the node is gone, or not Ready, so the statuses are the last it reported.
func nodeTrouble(node *corev1.Node) string {
	if node == nil {
		return "is gone"
	}
	for _, c := range node.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			return ""
		}
		return fmt.Sprintf("is NotReady since %s (%s: %s)", c.LastTransitionTime.Format(time.RFC3339), c.Reason, c.Message)
	}
	return "has not reported Ready yet"
}

func explainUnscheduled(ctx context.Context, w io.Writer, client kubernetes.Interface, pod *corev1.Pod) error {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var np []*corev1.Node
	for i := range nodes.Items {
		np = append(np, &nodes.Items[i])
	}
	var pp []*corev1.Pod
	for i := range pods.Items {
		pp = append(pp, &pods.Items[i])
	}
	storage, err := storageOf(ctx, client)
	if err != nil {
		return err
	}
	text, err := scheduler.Explain(scheduler.Config{}, pod, np, pp, storage)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "pod %s/%s is not scheduled.\n%s\n", pod.Namespace, pod.Name, text)
	return nil
}

// storageOf lists what the volume filter needs to judge a pod's claims.
func storageOf(ctx context.Context, client kubernetes.Interface) (scheduler.Storage, error) {
	core, storage, all := client.CoreV1(), client.StorageV1(), metav1.ListOptions{}
	var st scheduler.Storage
	claims, err := core.PersistentVolumeClaims("").List(ctx, all)
	if err != nil {
		return st, err
	}
	volumes, err := core.PersistentVolumes().List(ctx, all)
	if err != nil {
		return st, err
	}
	classes, err := storage.StorageClasses().List(ctx, all)
	if err != nil {
		return st, err
	}
	csiNodes, err := storage.CSINodes().List(ctx, all)
	if err != nil {
		return st, err
	}
	drivers, err := storage.CSIDrivers().List(ctx, all)
	if err != nil {
		return st, err
	}
	capacities, err := storage.CSIStorageCapacities("").List(ctx, all)
	if err != nil {
		return st, err
	}
	return scheduler.Storage{Claims: pointers(claims.Items), Volumes: pointers(volumes.Items),
		Classes: pointers(classes.Items), CSINodes: pointers(csiNodes.Items),
		Drivers: pointers(drivers.Items), Capacities: pointers(capacities.Items)}, nil
}

func pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// explainContainers says, for a pod on a node, what each container is doing. When
// the node is in trouble, the statuses are only what it last reported, and are
// told as such.
func explainContainers(w io.Writer, pod *corev1.Pod, trouble string) {
	fmt.Fprintf(w, "pod %s/%s is %s on node %s.\n", pod.Namespace, pod.Name, pod.Status.Phase, pod.Spec.NodeName)
	if trouble != "" {
		fmt.Fprintf(w, "  node %s %s: nothing below is current, it is what the node last reported.\n", pod.Spec.NodeName, trouble)
		fmt.Fprintf(w, "  the pod may no longer be running; its containers were:\n")
	}
	statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, s := range statuses {
		switch {
		case s.State.Waiting != nil:
			fmt.Fprintf(w, "  container %s is waiting: %s %s\n", s.Name, s.State.Waiting.Reason, s.State.Waiting.Message)
		case s.State.Terminated != nil:
			t := s.State.Terminated
			fmt.Fprintf(w, "  container %s terminated: %s (exit code %d) %s\n", s.Name, t.Reason, t.ExitCode, t.Message)
		case !s.Ready:
			fmt.Fprintf(w, "  container %s is running but not ready (its readiness probe has not passed)\n", s.Name)
		case trouble != "":
			fmt.Fprintf(w, "  container %s was running and ready when last reported\n", s.Name)
		default:
			fmt.Fprintf(w, "  container %s is running and ready\n", s.Name)
		}
		if t := s.LastTerminationState.Terminated; t != nil {
			fmt.Fprintf(w, "    last run ended: %s (exit code %d); see `kubectl logs --previous -c %s`\n", t.Reason, t.ExitCode, s.Name)
		}
	}
}

// recentWarnings lists the pod's Warning events, newest last.
func recentWarnings(ctx context.Context, w io.Writer, client kubernetes.Interface, pod *corev1.Pod) error {
	sel := fields.Set{"involvedObject.name": pod.Name, "involvedObject.uid": string(pod.UID), "type": corev1.EventTypeWarning}.AsSelector()
	evs, err := client.CoreV1().Events(pod.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel.String()})
	if err != nil {
		return err
	}
	sort.Slice(evs.Items, func(i, j int) bool { return evs.Items[i].LastTimestamp.Before(&evs.Items[j].LastTimestamp) })
	if len(evs.Items) > 0 {
		fmt.Fprintln(w, "recent warnings:")
	}
	for _, e := range evs.Items {
		fmt.Fprintf(w, "  %s (x%d): %s\n", e.Reason, max(e.Count, 1), e.Message)
	}
	return nil
}
