package main

// csi-registrar does what the node-driver-registrar sidecar does: it asks the CSI
// driver beside it for its name, then serves the kubelet plugin-registration API on
// <registration-dir>/<name>-reg.sock, telling the kubelet where the driver's socket
// is on the host.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

type registrar struct {
	registerapi.UnimplementedRegistrationServer
	name, endpoint string
	failed         chan string
}

func runCSIRegistrar(ctx context.Context, args []string) error {
	fs := newFlags("csi-registrar")
	address := fs.String("csi-address", "/csi/csi.sock", "the driver's socket in this container")
	hostPath := fs.String("kubelet-registration-path", "", "the driver's socket on the host, as the kubelet reaches it")
	regDir := fs.String("registration-dir", "/registration", "the kubelet's plugin registration directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *hostPath == "" {
		return fmt.Errorf("--kubelet-registration-path is required")
	}
	name, err := driverName(ctx, *address)
	if err != nil {
		return err
	}
	r := &registrar{name: name, endpoint: *hostPath, failed: make(chan string, 1)}
	srv := grpc.NewServer()
	registerapi.RegisterRegistrationServer(srv, r)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case msg := <-r.failed:
			fmt.Fprintln(os.Stderr, "registration failed:", msg)
			cancel()
		case <-ctx.Done():
		}
	}()
	return serveUnix(ctx, srv, filepath.Join(*regDir, name+"-reg.sock"))
}

// driverName asks the driver for its name, waiting for its socket to appear.
func driverName(ctx context.Context, address string) (string, error) {
	conn, err := grpc.NewClient("unix://"+address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		info, err := csi.NewIdentityClient(conn).GetPluginInfo(cctx, &csi.GetPluginInfoRequest{})
		cancel()
		if err == nil {
			return info.GetName(), nil
		}
		fmt.Fprintln(os.Stderr, "waiting for the driver:", err)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (r *registrar) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	return &registerapi.PluginInfo{Type: registerapi.CSIPlugin, Name: r.name, Endpoint: r.endpoint,
		SupportedVersions: []string{"1.0.0"}}, nil
}

func (r *registrar) NotifyRegistrationStatus(_ context.Context, s *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	if !s.PluginRegistered {
		select {
		case r.failed <- s.Error:
		default:
		}
	} else {
		fmt.Fprintln(os.Stderr, "registered with the kubelet")
	}
	return &registerapi.RegistrationStatusResponse{}, nil
}
