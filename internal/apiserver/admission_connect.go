package apiserver

import (
	"context"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	admissionapi "k8s.io/apiserver/pkg/admission"

	"skiff/internal/auth"
	"skiff/internal/resources"
)

// admitConnect runs the admission chain for a CONNECT to a pod's exec, attach or
// portforward, as Kubernetes does before it opens the stream: a webhook or policy
// that matches CONNECT sees the request's options (PodExecOptions...) and may
// refuse it. Other subresources are not admitted.
func (a *API) admitConnect(ctx context.Context, q request, query url.Values, ep *endpoint) error {
	opts := connectOptions(q.Subresource, query)
	if opts == nil {
		return nil
	}
	gvk, _, err := resources.Scheme.ObjectKinds(opts)
	if err != nil {
		return err
	}
	opts.GetObjectKind().SetGroupVersionKind(gvk[0])
	at := admissionapi.NewAttributesRecord(opts, nil, gvk[0], q.Namespace, q.Name, ep.GroupVersionResource, q.Subresource,
		admissionapi.Connect, nil, false, userInfo(auth.UserFrom(ctx)))
	if err := a.mutate(ctx, ep, at); err != nil {
		return err
	}
	return a.validate(ctx, ep, at)
}

// connectOptions reads a pod streaming request's options from its query, as the
// kubelet will.
func connectOptions(subresource string, q url.Values) runtime.Object {
	flag := func(name string) bool { b, _ := strconv.ParseBool(q.Get(name)); return b }
	switch subresource {
	case "exec":
		return &corev1.PodExecOptions{Container: q.Get("container"), Command: q["command"],
			Stdin: flag("stdin"), Stdout: flag("stdout"), Stderr: flag("stderr"), TTY: flag("tty")}
	case "attach":
		return &corev1.PodAttachOptions{Container: q.Get("container"),
			Stdin: flag("stdin"), Stdout: flag("stdout"), Stderr: flag("stderr"), TTY: flag("tty")}
	case "portforward":
		opts := &corev1.PodPortForwardOptions{}
		for _, p := range q["ports"] {
			if n, err := strconv.ParseInt(p, 10, 32); err == nil {
				opts.Ports = append(opts.Ports, int32(n))
			}
		}
		return opts
	}
	return nil
}
