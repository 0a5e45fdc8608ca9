package kubelet

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"

	"skiff/internal/kubelet/volume"
)

// objectSource fetches the ConfigMaps and Secrets that env refers to.
type objectSource interface {
	ConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error)
	Secret(ctx context.Context, ns, name string) (*corev1.Secret, error)
}

// configError is a problem in the pod's configuration (a missing ConfigMap key, say):
// the container waits with CreateContainerConfigError until the object appears.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func configErrorf(format string, a ...any) error { return &configError{fmt.Sprintf(format, a...)} }

// envVar is one resolved variable.
type envVar struct{ Name, Value string }

// resolveEnv computes a container's environment: envFrom first, then env (which wins),
// with $(VAR) references expanded against what is defined before and then the
// service variables svc. allocatable stands in for limits a container does not set,
// as resourceFieldRef requires.
func resolveEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, src objectSource, allocatable corev1.ResourceList, svc []envVar) ([]envVar, error) {
	var out []envVar
	index := map[string]int{}
	set := func(name, value string) {
		if i, ok := index[name]; ok {
			out[i].Value = value
			return
		}
		index[name] = len(out)
		out = append(out, envVar{name, value})
	}
	for _, from := range c.EnvFrom {
		values, err := envFromSource(ctx, pod.Namespace, from, src)
		if err != nil {
			return nil, err
		}
		for _, kv := range values {
			set(from.Prefix+kv.Name, kv.Value)
		}
	}
	lookup := func(name string) (string, bool) {
		if i, ok := index[name]; ok {
			return out[i].Value, true
		}
		for _, e := range svc {
			if e.Name == name {
				return e.Value, true
			}
		}
		return "", false
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, lookup))
			continue
		}
		v, ok, err := envValueFrom(ctx, pod, c, e.ValueFrom, src, allocatable)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			set(e.Name, v)
		}
	}
	return out, nil
}

// envFromSource returns the keys of one envFrom source, sorted as the object stores
// them (maps are iterated in key order by the caller's sort below).
func envFromSource(ctx context.Context, ns string, from corev1.EnvFromSource, src objectSource) ([]envVar, error) {
	var data map[string]string
	switch {
	case from.ConfigMapRef != nil:
		cm, err := src.ConfigMap(ctx, ns, from.ConfigMapRef.Name)
		if err != nil {
			return nil, missing(err, "configmap", from.ConfigMapRef.Name, from.ConfigMapRef.Optional)
		}
		if cm != nil {
			data = cm.Data
		}
	case from.SecretRef != nil:
		s, err := src.Secret(ctx, ns, from.SecretRef.Name)
		if err != nil {
			return nil, missing(err, "secret", from.SecretRef.Name, from.SecretRef.Optional)
		}
		if s != nil {
			data = map[string]string{}
			for k, v := range s.Data {
				data[k] = string(v)
			}
		}
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sortStrings(keys)
	out := make([]envVar, 0, len(keys))
	for _, k := range keys {
		out = append(out, envVar{k, data[k]})
	}
	return out, nil
}

// missing turns a failed lookup into nil for optional references and a config error
// (worded as kubectl users know it) otherwise.
func missing(err error, kind, name string, optional *bool) error {
	if !apierrors.IsNotFound(err) {
		return err
	}
	if optional != nil && *optional {
		return nil
	}
	return configErrorf("%s %q not found", kind, name)
}

func envValueFrom(ctx context.Context, pod *corev1.Pod, c *corev1.Container, vf *corev1.EnvVarSource, src objectSource, alloc corev1.ResourceList) (string, bool, error) {
	switch {
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		cm, err := src.ConfigMap(ctx, pod.Namespace, ref.Name)
		if err != nil {
			return "", false, missing(err, "configmap", ref.Name, ref.Optional)
		}
		if v, ok := cm.Data[ref.Key]; ok {
			return v, true, nil
		}
		if v, ok := cm.BinaryData[ref.Key]; ok {
			return string(v), true, nil
		}
		return keyMissing("ConfigMap", pod.Namespace, ref.Name, ref.Key, ref.Optional)
	case vf.SecretKeyRef != nil:
		ref := vf.SecretKeyRef
		s, err := src.Secret(ctx, pod.Namespace, ref.Name)
		if err != nil {
			return "", false, missing(err, "secret", ref.Name, ref.Optional)
		}
		if v, ok := s.Data[ref.Key]; ok {
			return string(v), true, nil
		}
		return keyMissing("Secret", pod.Namespace, ref.Name, ref.Key, ref.Optional)
	case vf.FieldRef != nil:
		v, err := podField(pod, vf.FieldRef.FieldPath)
		return v, err == nil, err
	case vf.ResourceFieldRef != nil:
		v, err := resourceField(pod, c, vf.ResourceFieldRef, alloc)
		return v, err == nil, err
	}
	return "", false, nil
}

func keyMissing(kind, ns, name, key string, optional *bool) (string, bool, error) {
	if optional != nil && *optional {
		return "", false, nil
	}
	return "", false, configErrorf("couldn't find key %s in %s %s/%s", key, kind, ns, name)
}

// podField resolves a downward-API field path; an unknown one is a config error.
func podField(pod *corev1.Pod, path string) (string, error) {
	v, err := volume.FieldValue(pod, path)
	if err != nil {
		return "", configErrorf("%v", err)
	}
	return v, nil
}

func resourceField(pod *corev1.Pod, c *corev1.Container, ref *corev1.ResourceFieldSelector, alloc corev1.ResourceList) (string, error) {
	target := c
	if ref.ContainerName != "" {
		target = findContainer(pod, ref.ContainerName)
		if target == nil {
			return "", configErrorf("resourceFieldRef: no container %q", ref.ContainerName)
		}
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok {
		return "", configErrorf("resourceFieldRef: unsupported resource %q", ref.Resource)
	}
	var q resource.Quantity
	var found bool
	switch kind {
	case "limits":
		q, found = target.Resources.Limits[corev1.ResourceName(name)]
		if !found || q.IsZero() {
			q, found = alloc[corev1.ResourceName(name)]
		}
	case "requests":
		q, found = target.Resources.Requests[corev1.ResourceName(name)]
	default:
		return "", configErrorf("resourceFieldRef: unsupported resource %q", ref.Resource)
	}
	if !found {
		return "0", nil
	}
	return convertQuantity(q, ref.Divisor, name == "cpu"), nil
}

// convertQuantity divides q by divisor (default 1), rounding up as the downward API
// does, so a 250m cpu limit reads "1" with the default divisor.
func convertQuantity(q, divisor resource.Quantity, cpu bool) string {
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if cpu {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10)
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10)
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	return nil
}

// expand replaces $(NAME) with NAME's value when lookup knows it; $$ is a literal $,
// and anything else is left as written (the Kubernetes rules for env, command, args).
func expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				name := s[i+2 : i+2+end]
				if v, ok := lookup(name); ok {
					b.WriteString(v)
				} else {
					b.WriteString(s[i : i+3+end])
				}
				i += 2 + end
				continue
			}
		}
		b.WriteByte('$')
	}
	return b.String()
}

func sortStrings(s []string) { slices.Sort(s) }
