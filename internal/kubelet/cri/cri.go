// Package cri is the agent's connection to a container runtime over the CRI v1 gRPC API,
// and the labels through which the agent finds its pods again after a restart.
package cri

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Labels and annotations the agent puts on every sandbox and container. Everything the
// agent must know about a running pod after it restarts lives in these, so it never
// needs a private database that could disagree with the runtime.
const (
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelContainerName = "io.kubernetes.container.name"
	// LabelNode marks objects created by one agent, so that several agents sharing an
	// external runtime do not touch each other's pods.
	LabelNode = "skiff.io/node"
	// AnnotationGrace is the container's termination grace period, needed to stop it
	// when the pod object is already gone.
	AnnotationGrace = "skiff.io/termination-grace-seconds"
	// AnnotationInit marks init containers ("true") and native sidecars ("sidecar").
	AnnotationInit = "skiff.io/init"
	// AnnotationTerminationMessagePath and AnnotationTerminationMessagePolicy carry
	// the container's terminationMessagePath and terminationMessagePolicy, so that the
	// message is read from the runtime's record of the container alone.
	AnnotationTerminationMessagePath   = "skiff.io/termination-message-path"
	AnnotationTerminationMessagePolicy = "skiff.io/termination-message-policy"
)

// Client talks to one CRI endpoint.
type Client struct {
	Runtime runtimeapi.RuntimeServiceClient
	Images  runtimeapi.ImageServiceClient
	conn    *grpc.ClientConn
	observe atomic.Pointer[Observer]
	// BeforePull, when set, runs before every pull; its error fails the pull with a
	// clearer reason than the runtime would give (see images.PullCheck).
	BeforePull func(ctx context.Context, image string) error
}

// Observer is told of every finished call: its gRPC method, duration and error.
type Observer func(method string, took time.Duration, err error)

// Observe sets the function told of every call (the agent's runtime metrics).
func (c *Client) Observe(f Observer) { c.observe.Store(&f) }

// intercept times each call for the observer.
func (c *Client) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	start := time.Now()
	err := invoker(ctx, method, req, reply, cc, opts...)
	if f := c.observe.Load(); f != nil {
		(*f)(method, time.Since(start), err)
	}
	return err
}

// maxMsgSize allows large ListContainers answers on busy nodes.
const maxMsgSize = 16 << 20

// Dial connects to endpoint ("unix:///path" or a bare socket path) and checks that it
// answers the CRI v1 Version call within timeout.
func Dial(ctx context.Context, endpoint string, timeout time.Duration) (*Client, *runtimeapi.VersionResponse, error) {
	target := endpoint
	if !strings.Contains(target, "://") {
		target = "unix://" + target
	}
	c := &Client{}
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(c.intercept),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)))
	if err != nil {
		return nil, nil, fmt.Errorf("CRI endpoint %s: %w", endpoint, err)
	}
	c.Runtime, c.Images, c.conn = runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn), conn
	vctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, err := c.Runtime.Version(vctx, &runtimeapi.VersionRequest{}, grpc.WaitForReady(true))
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("CRI endpoint %s does not answer the CRI v1 API: %w", endpoint, err)
	}
	return c, v, nil
}

// Conn is the connection, for containerd's own API services on the same socket.
func (c *Client) Conn() grpc.ClientConnInterface { return c.conn }

// Close ends the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Sandboxes lists the sandboxes whose labels include sel.
func (c *Client) Sandboxes(ctx context.Context, sel map[string]string) ([]*runtimeapi.PodSandbox, error) {
	r, err := c.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{
		Filter: &runtimeapi.PodSandboxFilter{LabelSelector: sel}})
	if err != nil {
		return nil, err
	}
	return r.Items, nil
}

// Containers lists the containers whose labels include sel.
func (c *Client) Containers(ctx context.Context, sel map[string]string) ([]*runtimeapi.Container, error) {
	r, err := c.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{
		Filter: &runtimeapi.ContainerFilter{LabelSelector: sel}})
	if err != nil {
		return nil, err
	}
	return r.Containers, nil
}

// ContainerStatus returns one container's full status (exit code, reason, log path).
func (c *Client) ContainerStatus(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error) {
	r, err := c.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		return nil, err
	}
	return r.Status, nil
}

// SandboxStatus returns a sandbox's status, including its IPs.
func (c *Client) SandboxStatus(ctx context.Context, id string) (*runtimeapi.PodSandboxStatus, error) {
	r, err := c.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil {
		return nil, err
	}
	return r.Status, nil
}

// ImagePresent reports whether image is in the runtime's store, and its ID.
func (c *Client) ImagePresent(ctx context.Context, image string) (bool, string, error) {
	r, err := c.Images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: image}})
	if err != nil {
		return false, "", err
	}
	if r.Image == nil {
		return false, "", nil
	}
	return true, r.Image.Id, nil
}

// Pull pulls image and returns its reference (digest or ID).
func (c *Client) Pull(ctx context.Context, image string) (string, error) {
	if c.BeforePull != nil {
		if err := c.BeforePull(ctx, image); err != nil {
			return "", err
		}
	}
	r, err := c.Images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: image}})
	if err != nil {
		return "", err
	}
	return r.ImageRef, nil
}
