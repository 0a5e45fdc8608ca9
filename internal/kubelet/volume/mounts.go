package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Err returns the first failure among the volumes c mounts, so the container can
// wait with a message that names the object.
func (p *Pod) Err(c *corev1.Container) error {
	for _, vm := range c.VolumeMounts {
		if err := p.errs[vm.Name]; err != nil {
			return fmt.Errorf("volume %q: %w", vm.Name, err)
		}
	}
	return nil
}

// Mounts turns c's volumeMounts into CRI mounts. expand resolves $(VAR) in
// subPathExpr against the container's environment.
func (p *Pod) Mounts(c *corev1.Container, expand func(string) string) ([]*runtimeapi.Mount, error) {
	if err := p.Err(c); err != nil {
		return nil, err
	}
	out := make([]*runtimeapi.Mount, 0, len(c.VolumeMounts))
	for _, vm := range c.VolumeMounts {
		v, ok := p.volumes[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volume %q is not defined in the pod", vm.Name)
		}
		host := v.path
		sub := vm.SubPath
		if vm.SubPathExpr != "" && expand != nil {
			sub = expand(vm.SubPathExpr)
		}
		if sub != "" {
			var err error
			// An image cannot grow the directory other volumes create for a
			// missing subPath.
			if host, err = subPath(v.path, sub, v.image == ""); err != nil {
				if errors.Is(err, errNoSubPath) {
					err = fmt.Errorf("it does not exist in image %s", v.image)
				}
				return nil, fmt.Errorf("volume %q subPath %q: %w", vm.Name, sub, err)
			}
		}
		if vm.MountPropagation != nil && *vm.MountPropagation == corev1.MountPropagationBidirectional &&
			(c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged) {
			return nil, fmt.Errorf("volumeMount %q: mountPropagation Bidirectional is only allowed in privileged containers", vm.Name)
		}
		out = append(out, &runtimeapi.Mount{
			ContainerPath: vm.MountPath,
			HostPath:      host,
			Readonly:      vm.ReadOnly || v.readOnly,
			Propagation:   propagation(vm.MountPropagation),
		})
	}
	return out, nil
}

// propagation maps a volumeMount's mountPropagation to CRI's; Bidirectional (only
// for privileged containers, which validation enforces) is how a CSI driver in a
// container makes its mounts visible to the host.
func propagation(p *corev1.MountPropagationMode) runtimeapi.MountPropagation {
	switch {
	case p == nil:
		return runtimeapi.MountPropagation_PROPAGATION_PRIVATE
	case *p == corev1.MountPropagationHostToContainer:
		return runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
	case *p == corev1.MountPropagationBidirectional:
		return runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
	}
	return runtimeapi.MountPropagation_PROPAGATION_PRIVATE
}

// errNoSubPath is a subPath missing from a volume where it is not created.
var errNoSubPath = errors.New("no such file or directory in the volume")

// subPath resolves sub inside the volume at base, creating it as a directory when
// missing and create is set (as Kubernetes does), and refuses anything that leads
// out of the volume, symlinks included.
func subPath(base, sub string, create bool) (string, error) {
	if filepath.IsAbs(sub) || slices.Contains(strings.Split(filepath.ToSlash(sub), "/"), "..") {
		return "", errors.New("must be a relative path without '..'")
	}
	full := filepath.Join(base, sub)
	if _, err := os.Lstat(full); errors.Is(err, fs.ErrNotExist) {
		if !create {
			return "", errNoSubPath
		}
		if err := os.MkdirAll(full, 0o755); err != nil {
			return "", err
		}
	}
	realBase, err := filepath.EvalSymlinks(base)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(full)
	if err != nil {
		return "", err
	}
	if real != realBase && !strings.HasPrefix(real, realBase+string(filepath.Separator)) {
		return "", errors.New("leads outside the volume")
	}
	return real, nil
}
