package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"skiff/internal/netpol"
)

// explainReach says whether the network policies let pod open a connection to
// the pod named by to ([NAMESPACE/]POD, in pod's namespace by default), and which
// policy decides each direction.
func explainReach(ctx context.Context, w io.Writer, client kubernetes.Interface, pod *corev1.Pod, to string, port int32, proto corev1.Protocol) error {
	ns, name, ok := strings.Cut(to, "/")
	if !ok {
		ns, name = pod.Namespace, to
	}
	dest, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if port == 0 {
		for _, c := range dest.Spec.Containers {
			if len(c.Ports) > 0 && port == 0 {
				port, proto = c.Ports[0].ContainerPort, c.Ports[0].Protocol
			}
		}
	}
	if port == 0 {
		return fmt.Errorf("pod %s/%s declares no port: give --port", dest.Namespace, dest.Name)
	}
	st := netpol.State{}
	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range pods.Items {
		st.Pods = append(st.Pods, &pods.Items[i])
	}
	nss, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range nss.Items {
		st.Namespaces = append(st.Namespaces, &nss.Items[i])
	}
	pols, err := client.NetworkingV1().NetworkPolicies("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range pols.Items {
		st.Policies = append(st.Policies, &pols.Items[i])
	}
	allowed, lines := netpol.Explain(st, pod, dest, proto, port)
	verdict := "may"
	if !allowed {
		verdict = "may NOT"
	}
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	fmt.Fprintf(w, "pod %s/%s %s open %s connections to pod %s/%s port %d:\n  %s\n", pod.Namespace, pod.Name, verdict,
		proto, dest.Namespace, dest.Name, port, strings.Join(lines, "\n  "))
	return nil
}
