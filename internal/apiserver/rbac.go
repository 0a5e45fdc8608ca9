package apiserver

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/store"
)

// rbacSource reads RBAC objects from the watch cache, so authorization costs no etcd
// round trip.
type rbacSource struct{ api *API }

func (s rbacSource) list(resource, namespace string) []runtime.Object {
	ep := s.api.endpoints[rbacv1.SchemeGroupVersion.WithResource(resource)]
	objs, _, _, _ := ep.store.List(context.Background(), store.ListOptions{Namespace: namespace, ResourceVersion: "0"})
	return objs
}

func (s rbacSource) ClusterRoles() []*rbacv1.ClusterRole {
	return typed[*rbacv1.ClusterRole](s.list("clusterroles", ""))
}

func (s rbacSource) ClusterRoleBindings() []*rbacv1.ClusterRoleBinding {
	return typed[*rbacv1.ClusterRoleBinding](s.list("clusterrolebindings", ""))
}

func (s rbacSource) Roles(ns string) []*rbacv1.Role { return typed[*rbacv1.Role](s.list("roles", ns)) }

func (s rbacSource) RoleBindings(ns string) []*rbacv1.RoleBinding {
	return typed[*rbacv1.RoleBinding](s.list("rolebindings", ns))
}

func typed[T runtime.Object](objs []runtime.Object) []T {
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// serviceAccountExists backs token authentication: deleting a service account, or the
// pod a token is bound to, revokes its tokens.
func (a *API) serviceAccountExists(ctx context.Context, ns, sa, saUID, pod, podUID string) bool {
	if !a.existsWithUID(ctx, "serviceaccounts", ns, sa, saUID) {
		return false
	}
	return pod == "" || a.existsWithUID(ctx, "pods", ns, pod, podUID)
}

// existsWithUID says whether the object is there with that UID (any UID when uid is
// ""). The cache answers almost always; when it does not know the object or knows
// another UID, etcd decides, since a token is often used right after its service
// account or pod was created, before this server's cache has seen it.
func (a *API) existsWithUID(ctx context.Context, resource, ns, name, uid string) bool {
	st := a.endpoints[corev1.SchemeGroupVersion.WithResource(resource)].store
	matches := func(obj runtime.Object) bool {
		m, err := meta.Accessor(obj)
		return err == nil && (uid == "" || string(m.GetUID()) == uid)
	}
	if obj, ok := st.Peek(ns, name); ok && matches(obj) {
		return true
	}
	obj, err := st.Get(ctx, ns, name)
	return err == nil && matches(obj)
}

// kubeSystemSecret reads a Secret of kube-system from the cache (bootstrap tokens).
func (a *API) kubeSystemSecret(name string) (*corev1.Secret, bool) {
	obj, ok := a.endpoints[corev1.SchemeGroupVersion.WithResource("secrets")].store.Peek("kube-system", name)
	if !ok {
		return nil, false
	}
	s, ok := obj.(*corev1.Secret)
	return s, ok
}
