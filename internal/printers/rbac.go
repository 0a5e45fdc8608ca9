package printers

import (
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const rbacGroup = "rbac.authorization.k8s.io"

func addRBAC(m map[schema.GroupKind]*Printer) {
	// Kubernetes has no printer of its own for roles, so a real cluster shows them
	// with the generic NAME and CREATED AT.
	register(m, createdAtPrinter, rbacGroup, "Role", "ClusterRole")

	bindingColumns := func(what string) []metav1.TableColumnDefinition {
		return []metav1.TableColumnDefinition{
			nameColumn(),
			col("Role", typeString, rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"]),
			ageColumn(),
			wide("Users", typeString, "Users bound by the "+what),
			wide("Groups", typeString, "Groups bound by the "+what),
			wide("ServiceAccounts", typeString, "Service accounts bound by the "+what),
		}
	}
	register(m, printerOf(bindingColumns("role binding."), func(b *rbacv1.RoleBinding, now time.Time) []interface{} {
		return bindingRow(b.Name, b.CreationTimestamp, b.RoleRef, b.Subjects, now)
	}), rbacGroup, "RoleBinding")
	register(m, printerOf(bindingColumns("cluster role binding."), func(b *rbacv1.ClusterRoleBinding, now time.Time) []interface{} {
		return bindingRow(b.Name, b.CreationTimestamp, b.RoleRef, b.Subjects, now)
	}), rbacGroup, "ClusterRoleBinding")
}

// bindingRow shows the role as "Kind/name" and, wide, the subjects by kind; service
// accounts as "namespace/name" since a binding may name any namespace's.
func bindingRow(name string, created metav1.Time, ref rbacv1.RoleRef, subjects []rbacv1.Subject, now time.Time) []interface{} {
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		}
	}
	return []interface{}{
		name,
		ref.Kind + "/" + ref.Name,
		age(now, created),
		strings.Join(users, ", "),
		strings.Join(groups, ", "),
		strings.Join(sas, ", "),
	}
}
