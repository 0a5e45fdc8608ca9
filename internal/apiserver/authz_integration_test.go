package apiserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/testserver"
)

func as(t *testing.T, cfg *rest.Config, user string, groups ...string) kubernetes.Interface {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	return kubernetes.NewForConfigOrDie(c)
}

// wantForbidden fails unless err is a 403 whose message holds want.
func wantForbidden(t *testing.T, what string, err error, want string) {
	t.Helper()
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: %v, want 403 with %q", what, err, want)
	}
}

func TestRBACEscalationNeedsEscalateOrBind(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	admin := srv.Client
	rules := func(verbs []string, resources ...string) []rbacv1.PolicyRule {
		return []rbacv1.PolicyRule{{Verbs: verbs, APIGroups: []string{rbacv1.GroupName}, Resources: resources}}
	}
	role := func(name string, r []rbacv1.PolicyRule) *rbacv1.Role {
		return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: r}
	}
	bind := func(name, kind, roleName string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: roleName}}
	}
	if _, err := admin.RbacV1().Roles("default").Create(ctx, role("writer", rules([]string{"create", "get"}, "roles", "rolebindings")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings("default").Create(ctx, bind("writer", "Role", "writer"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	alice := as(t, srv.Config, "alice")
	all := []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}}
	// The authorizer learns of the binding through its watch: until then alice
	// may not create roles at all, which is not the refusal under test.
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err = alice.RbacV1().Roles("default").Create(ctx, role("all", all), metav1.CreateOptions{})
		if !strings.Contains(fmt.Sprint(err), `cannot create resource "roles"`) || time.Now().After(deadline) {
			break
		}
	}
	wantForbidden(t, "*/*/* role", err, `user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held`)
	if _, err := admin.RbacV1().Roles("default").Get(ctx, "all", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("refused role was stored: %v", err)
	}
	if _, err := alice.RbacV1().Roles("default").Create(ctx, role("subset", rules([]string{"get"}, "roles")), metav1.CreateOptions{}); err != nil {
		t.Fatalf("role within alice's rules: %v", err)
	}
	_, err = alice.RbacV1().RoleBindings("default").Create(ctx, bind("to-admin", "ClusterRole", "admin"), metav1.CreateOptions{})
	wantForbidden(t, "binding to admin", err, "is attempting to grant RBAC permissions not currently held")

	// escalate on roles and bind on the admin ClusterRole lift the check.
	if _, err := admin.RbacV1().Roles("default").Create(ctx, role("lift", []rbacv1.PolicyRule{
		{Verbs: []string{"escalate"}, APIGroups: []string{rbacv1.GroupName}, Resources: []string{"roles"}},
		{Verbs: []string{"bind"}, APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"}, ResourceNames: []string{"admin"}},
	}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings("default").Create(ctx, bind("lift", "Role", "lift"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustEventually(t, func() error {
		_, err := alice.RbacV1().Roles("default").Create(ctx, role("all", all), metav1.CreateOptions{})
		return err
	})
	if _, err := alice.RbacV1().RoleBindings("default").Create(ctx, bind("to-admin", "ClusterRole", "admin"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("binding with bind on admin: %v", err)
	}
}

func TestNodeIdentityIsRestrictedToItsOwn(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	admin := srv.Client
	n1 := as(t, srv.Config, "system:node:n1", "system:nodes")
	for _, name := range []string{"n1", "n2"} {
		if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"mine", "theirs"} {
		if _, err := admin.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pod := func(name, node, secret string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: node,
			Containers: []corev1.Container{{Name: "c", Image: "x"}},
			Volumes:    []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}}}}
	}
	for _, p := range []*corev1.Pod{pod("a", "n1", "mine"), pod("b", "n2", "theirs")} {
		if _, err := admin.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mustEventually(t, func() error {
		_, err := n1.CoreV1().Secrets("default").Get(ctx, "mine", metav1.GetOptions{})
		return err
	})
	_, err := n1.CoreV1().Secrets("default").Get(ctx, "theirs", metav1.GetOptions{})
	wantForbidden(t, "another node's secret", err, "no relationship found between node 'n1' and this object")

	other, _ := admin.CoreV1().Nodes().Get(ctx, "n2", metav1.GetOptions{})
	other.Labels = map[string]string{"pwned": "true"}
	_, err = n1.CoreV1().Nodes().Update(ctx, other, metav1.UpdateOptions{})
	wantForbidden(t, "another node", err, `node "n1" is not allowed to modify node "n2"`)

	own, _ := n1.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	own.Spec.Taints = nil
	own.Labels = map[string]string{"node-restriction.kubernetes.io/trusted": "yes"}
	_, err = n1.CoreV1().Nodes().Update(ctx, own, metav1.UpdateOptions{})
	wantForbidden(t, "restricted label", err, "is not allowed to modify labels: node-restriction.kubernetes.io/trusted")
	own.Labels = map[string]string{"team": "a"}
	if _, err := n1.CoreV1().Nodes().Update(ctx, own, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("own node's labels: %v", err)
	}

	err = n1.CoreV1().Pods("default").Delete(ctx, "b", metav1.DeleteOptions{})
	wantForbidden(t, "another node's pod", err, `node "n1" can only delete pods with spec.nodeName set to itself`)
	_, err = n1.CoreV1().Pods("default").Create(ctx, pod("c", "n1", "theirs"), metav1.CreateOptions{})
	wantForbidden(t, "a pod that reads another node's secret", err, "can only create mirror pods")
	_, err = n1.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pwn"},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"}}, metav1.CreateOptions{})
	wantForbidden(t, "cluster role binding", err, `cannot create resource "clusterrolebindings"`)
	if err := n1.CoreV1().Pods("default").Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("own pod: %v", err)
	}
}

func mustEventually(t *testing.T, f func() error) {
	t.Helper()
	if err := eventually(f); err != nil {
		t.Fatal(err)
	}
}

// The local-path provisioner in each node agent makes and removes its own node's
// volumes, and no other.
func TestNodeWritesOnlyItsOwnLocalVolumes(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	n1 := as(t, srv.Config, "system:node:n1", "system:nodes")
	pv := func(name, node string) *corev1.PersistentVolume {
		return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/data/" + name}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}},
		}}
	}
	if _, err := n1.CoreV1().PersistentVolumes().Create(ctx, pv("mine", "n1"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("own local volume: %v", err)
	}
	_, err := n1.CoreV1().PersistentVolumes().Create(ctx, pv("theirs", "n2"), metav1.CreateOptions{})
	wantForbidden(t, "another node's volume", err, `node "n1" can only create, delete and grow local and CSI volumes bound to itself`)
	if _, err := srv.Client.CoreV1().PersistentVolumes().Create(ctx, pv("theirs", "n2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = n1.CoreV1().PersistentVolumes().Delete(ctx, "theirs", metav1.DeleteOptions{})
	wantForbidden(t, "delete another node's volume", err, "can only create, delete and grow local and CSI volumes bound to itself")
	if _, err := n1.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("list claims: %v", err)
	}
	if err := n1.CoreV1().PersistentVolumes().Delete(ctx, "mine", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete own volume: %v", err)
	}
}
