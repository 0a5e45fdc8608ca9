package cri

import (
	"context"
	"fmt"
	"time"

	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Services returns the connection as the CRI RuntimeService and ImageManagerService
// interfaces, the shape the kubelet's runtime manager works with (and that
// k8s.io/cri-api's fakes implement, so the pod lifecycle is tested without a runtime).
// Calls go through the same connection, so the call metrics see them.
func (c *Client) Services() (internalapi.RuntimeService, internalapi.ImageManagerService) {
	return &runtimeService{c: c.Runtime}, &imageService{c: c.Images, before: c.BeforePull}
}

type runtimeService struct {
	c runtimeapi.RuntimeServiceClient
}

func (r *runtimeService) Version(ctx context.Context, v string) (*runtimeapi.VersionResponse, error) {
	return r.c.Version(ctx, &runtimeapi.VersionRequest{Version: v})
}

func (r *runtimeService) CreateContainer(ctx context.Context, sandbox string, cfg *runtimeapi.ContainerConfig, sbCfg *runtimeapi.PodSandboxConfig) (string, error) {
	resp, err := r.c.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sandbox, Config: cfg, SandboxConfig: sbCfg})
	return resp.GetContainerId(), err
}

func (r *runtimeService) StartContainer(ctx context.Context, id string) error {
	_, err := r.c.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id})
	return err
}

func (r *runtimeService) StopContainer(ctx context.Context, id string, timeout int64) error {
	_, err := r.c.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: timeout})
	return err
}

func (r *runtimeService) RemoveContainer(ctx context.Context, id string) error {
	_, err := r.c.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id})
	return err
}

func (r *runtimeService) ListContainers(ctx context.Context, f *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	resp, err := r.c.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: f})
	return resp.GetContainers(), err
}

func (r *runtimeService) ContainerStatus(ctx context.Context, id string, verbose bool) (*runtimeapi.ContainerStatusResponse, error) {
	return r.c.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: verbose})
}

func (r *runtimeService) UpdateContainerResources(ctx context.Context, id string, res *runtimeapi.ContainerResources) error {
	_, err := r.c.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: id, Linux: res.GetLinux(), Windows: res.GetWindows()})
	return err
}

func (r *runtimeService) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) ([]byte, []byte, error) {
	resp, err := r.c.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: int64(timeout.Seconds())})
	if err != nil {
		return nil, nil, err
	}
	if resp.ExitCode != 0 {
		return resp.Stdout, resp.Stderr, &ExitError{Code: resp.ExitCode}
	}
	return resp.Stdout, resp.Stderr, nil
}

func (r *runtimeService) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	return r.c.Exec(ctx, req)
}

func (r *runtimeService) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return r.c.Attach(ctx, req)
}

func (r *runtimeService) ReopenContainerLog(ctx context.Context, id string) error {
	_, err := r.c.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: id})
	return err
}

func (r *runtimeService) CheckpointContainer(ctx context.Context, req *runtimeapi.CheckpointContainerRequest) error {
	_, err := r.c.CheckpointContainer(ctx, req)
	return err
}

// GetContainerEvents streams container events until the stream or ctx ends.
func (r *runtimeService) GetContainerEvents(ctx context.Context, ch chan *runtimeapi.ContainerEventResponse, established func(runtimeapi.RuntimeService_GetContainerEventsClient)) error {
	s, err := r.c.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		return err
	}
	if established != nil {
		established(s)
	}
	for {
		ev, err := s.Recv()
		if err != nil {
			return err
		}
		ch <- ev
	}
}

func (r *runtimeService) RunPodSandbox(ctx context.Context, cfg *runtimeapi.PodSandboxConfig, handler string) (string, error) {
	resp, err := r.c.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg, RuntimeHandler: handler})
	return resp.GetPodSandboxId(), err
}

func (r *runtimeService) StopPodSandbox(ctx context.Context, id string) error {
	_, err := r.c.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id})
	return err
}

func (r *runtimeService) RemovePodSandbox(ctx context.Context, id string) error {
	_, err := r.c.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})
	return err
}

func (r *runtimeService) PodSandboxStatus(ctx context.Context, id string, verbose bool) (*runtimeapi.PodSandboxStatusResponse, error) {
	return r.c.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id, Verbose: verbose})
}

func (r *runtimeService) ListPodSandbox(ctx context.Context, f *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	resp, err := r.c.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: f})
	return resp.GetItems(), err
}

func (r *runtimeService) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	return r.c.PortForward(ctx, req)
}

func (r *runtimeService) UpdatePodSandboxResources(ctx context.Context, req *runtimeapi.UpdatePodSandboxResourcesRequest) (*runtimeapi.UpdatePodSandboxResourcesResponse, error) {
	return r.c.UpdatePodSandboxResources(ctx, req)
}

func (r *runtimeService) CheckpointPod(ctx context.Context, req *runtimeapi.CheckpointPodRequest) error {
	_, err := r.c.CheckpointPod(ctx, req)
	return err
}

func (r *runtimeService) RestorePod(ctx context.Context, req *runtimeapi.RestorePodRequest) (*runtimeapi.RestorePodResponse, error) {
	return r.c.RestorePod(ctx, req)
}

func (r *runtimeService) ContainerStats(ctx context.Context, id string) (*runtimeapi.ContainerStats, error) {
	resp, err := r.c.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: id})
	return resp.GetStats(), err
}

func (r *runtimeService) ListContainerStats(ctx context.Context, f *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error) {
	resp, err := r.c.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{Filter: f})
	return resp.GetStats(), err
}

func (r *runtimeService) PodSandboxStats(ctx context.Context, id string) (*runtimeapi.PodSandboxStats, error) {
	resp, err := r.c.PodSandboxStats(ctx, &runtimeapi.PodSandboxStatsRequest{PodSandboxId: id})
	return resp.GetStats(), err
}

func (r *runtimeService) ListPodSandboxStats(ctx context.Context, f *runtimeapi.PodSandboxStatsFilter) ([]*runtimeapi.PodSandboxStats, error) {
	resp, err := r.c.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{Filter: f})
	return resp.GetStats(), err
}

func (r *runtimeService) ListMetricDescriptors(ctx context.Context) ([]*runtimeapi.MetricDescriptor, error) {
	resp, err := r.c.ListMetricDescriptors(ctx, &runtimeapi.ListMetricDescriptorsRequest{})
	return resp.GetDescriptors(), err
}

func (r *runtimeService) ListPodSandboxMetrics(ctx context.Context) ([]*runtimeapi.PodSandboxMetrics, error) {
	resp, err := r.c.ListPodSandboxMetrics(ctx, &runtimeapi.ListPodSandboxMetricsRequest{})
	return resp.GetPodMetrics(), err
}

func (r *runtimeService) UpdateRuntimeConfig(ctx context.Context, cfg *runtimeapi.RuntimeConfig) error {
	_, err := r.c.UpdateRuntimeConfig(ctx, &runtimeapi.UpdateRuntimeConfigRequest{RuntimeConfig: cfg})
	return err
}

func (r *runtimeService) Status(ctx context.Context, verbose bool) (*runtimeapi.StatusResponse, error) {
	return r.c.Status(ctx, &runtimeapi.StatusRequest{Verbose: verbose})
}

func (r *runtimeService) RuntimeConfig(ctx context.Context) (*runtimeapi.RuntimeConfigResponse, error) {
	return r.c.RuntimeConfig(ctx, &runtimeapi.RuntimeConfigRequest{})
}

// Close leaves the shared connection to the Client.
func (r *runtimeService) Close(context.Context) error { return nil }

type imageService struct {
	c      runtimeapi.ImageServiceClient
	before func(ctx context.Context, image string) error
}

func (s *imageService) ListImages(ctx context.Context, f *runtimeapi.ImageFilter) ([]*runtimeapi.Image, error) {
	resp, err := s.c.ListImages(ctx, &runtimeapi.ListImagesRequest{Filter: f})
	return resp.GetImages(), err
}

func (s *imageService) ImageStatus(ctx context.Context, image *runtimeapi.ImageSpec, verbose bool) (*runtimeapi.ImageStatusResponse, error) {
	return s.c.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: image, Verbose: verbose})
}

// PullImage runs the BeforePull check first, for a clearer reason than the runtime's.
func (s *imageService) PullImage(ctx context.Context, image *runtimeapi.ImageSpec, auth *runtimeapi.AuthConfig, sbCfg *runtimeapi.PodSandboxConfig) (string, error) {
	if s.before != nil {
		if err := s.before(ctx, image.GetImage()); err != nil {
			return "", err
		}
	}
	resp, err := s.c.PullImage(ctx, &runtimeapi.PullImageRequest{Image: image, Auth: auth, SandboxConfig: sbCfg})
	return resp.GetImageRef(), err
}

func (s *imageService) RemoveImage(ctx context.Context, image *runtimeapi.ImageSpec) error {
	_, err := s.c.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: image})
	return err
}

func (s *imageService) ImageFsInfo(ctx context.Context) (*runtimeapi.ImageFsInfoResponse, error) {
	return s.c.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
}

func (s *imageService) Close(context.Context) error { return nil }

// ExitError is a command run by ExecSync that exited non-zero.
type ExitError struct{ Code int32 }

func (e *ExitError) Error() string { return fmt.Sprintf("command exited with code %d", e.Code) }
