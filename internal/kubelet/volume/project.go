package volume

import (
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// defaultFileMode is the mode of projected files when the pod names none.
const defaultFileMode = 0o644

// fileMode picks the item's mode, then the volume's default, then 0644.
func fileMode(item, def *int32) fs.FileMode {
	switch {
	case item != nil:
		return fs.FileMode(*item)
	case def != nil:
		return fs.FileMode(*def)
	}
	return defaultFileMode
}

// NotFoundError says a referenced ConfigMap or Secret does not exist; the container
// waits until it does.
type NotFoundError struct{ Kind, Namespace, Name string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s %q not found", e.Kind, e.Name)
}

// projectKeys turns an object's data into files: every key when items is empty,
// otherwise each item's key at its path (a missing key is an error unless optional).
func projectKeys(kind, ns, name string, data map[string][]byte, items []corev1.KeyToPath, def *int32, optional bool) (map[string]File, error) {
	out := map[string]File{}
	if len(items) == 0 {
		for _, k := range slices.Sorted(maps.Keys(data)) {
			out[k] = File{Data: data[k], Mode: fileMode(nil, def)}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("%s %s/%s has no key %q", kind, ns, name, it.Key)
		}
		out[it.Path] = File{Data: v, Mode: fileMode(it.Mode, def)}
	}
	return out, nil
}

// ConfigMapFiles projects a ConfigMap (nil when it does not exist) into files.
func ConfigMapFiles(ns, name string, cm *corev1.ConfigMap, items []corev1.KeyToPath, def *int32, optional bool) (map[string]File, error) {
	if cm == nil {
		if optional {
			return map[string]File{}, nil
		}
		return nil, &NotFoundError{Kind: "configmap", Namespace: ns, Name: name}
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	maps.Copy(data, cm.BinaryData)
	return projectKeys("configmap", ns, name, data, items, def, optional)
}

// SecretFiles projects a Secret (nil when it does not exist) into files.
func SecretFiles(ns, name string, s *corev1.Secret, items []corev1.KeyToPath, def *int32, optional bool) (map[string]File, error) {
	if s == nil {
		if optional {
			return map[string]File{}, nil
		}
		return nil, &NotFoundError{Kind: "secret", Namespace: ns, Name: name}
	}
	return projectKeys("secret", ns, name, s.Data, items, def, optional)
}

// ResourceFunc resolves a resourceFieldRef against the named container.
type ResourceFunc func(pod *corev1.Pod, container string, ref *corev1.ResourceFieldSelector) (string, error)

// DownwardFiles writes pod fields and container resources into files.
func DownwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, def *int32, resource ResourceFunc) (map[string]File, error) {
	out := map[string]File{}
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = FieldValue(pod, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil && resource != nil:
			v, err = resource(pod, it.ResourceFieldRef.ContainerName, it.ResourceFieldRef)
		default:
			err = fmt.Errorf("downwardAPI item %q has no field", it.Path)
		}
		if err != nil {
			return nil, err
		}
		out[it.Path] = File{Data: []byte(v), Mode: fileMode(it.Mode, def)}
	}
	return out, nil
}

// FieldValue resolves a downward-API field path, for volumes and environment
// variables alike. Whole labels and annotations (volumes only) are one
// `key="value"` line each, sorted, as Kubernetes writes them.
func FieldValue(pod *corev1.Pod, path string) (string, error) {
	if k, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[k], nil
	}
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[k], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return pod.Status.HostIP, nil
	case "status.hostIPs":
		return joinIPs(pod.Status.HostIPs, func(i corev1.HostIP) string { return i.IP }), nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	case "status.podIPs":
		return joinIPs(pod.Status.PodIPs, func(i corev1.PodIP) string { return i.IP }), nil
	}
	return "", fmt.Errorf("unsupported fieldRef %q", path)
}

func joinIPs[T any](ips []T, ip func(T) string) string {
	s := make([]string, len(ips))
	for i := range ips {
		s[i] = ip(ips[i])
	}
	return strings.Join(s, ",")
}

func formatMap(m map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// subscript parses "prefix['key']".
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}
