package statefulset

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
)

func retentionSet(whenDeleted, whenScaled appsv1.PersistentVolumeClaimRetentionPolicyType) *appsv1.StatefulSet {
	set := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns", UID: "set-uid"},
		Spec: appsv1.StatefulSetSpec{
			Selector:             &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}},
		},
	}
	if whenDeleted != "" || whenScaled != "" {
		set.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
			WhenDeleted: whenDeleted, WhenScaled: whenScaled}
	}
	return set
}

// TestClaimRetentionPolicy: whenDeleted=Delete makes the set an owner (not the
// controller) of each claim, so the garbage collector deletes them with the set;
// whenScaled=Delete gives a condemned pod's claims to the pod before deleting it.
// Retain, and no policy, leave the claims alone.
func TestClaimRetentionPolicy(t *testing.T) {
	const del, retain = appsv1.DeletePersistentVolumeClaimRetentionPolicyType, appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	for _, tc := range []struct {
		name                   string
		set                    *appsv1.StatefulSet
		setOwns, podOwnsScaled bool
	}{
		{"no policy retains", retentionSet("", ""), false, false},
		{"whenDeleted Delete", retentionSet(del, retain), true, false},
		{"whenScaled Delete", retentionSet(retain, del), false, true},
		{"both Delete", retentionSet(del, del), true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkSetOwnsClaims(t, tc.set, tc.setOwns)
			checkCondemnHandsClaims(t, tc.set, tc.podOwnsScaled)
		})
	}
}

func checkSetOwnsClaims(t *testing.T, set *appsv1.StatefulSet, want bool) {
	t.Helper()
	claims := newClaims(set, 2)
	if len(claims) != 1 || claims[0].Name != "data-db-2" || claims[0].Labels["app"] != "db" {
		t.Fatalf("claims %+v", claims)
	}
	refs := claims[0].OwnerReferences
	owned := len(refs) == 1 && refs[0].UID == "set-uid" && refs[0].Kind == "StatefulSet" && refs[0].Controller != nil && !*refs[0].Controller
	if owned != want || (!want && len(refs) != 0) {
		t.Fatalf("new claim's owner references %+v; want the set as a non-controller owner: %v", refs, want)
	}
}

func checkCondemnHandsClaims(t *testing.T, set *appsv1.StatefulSet, want bool) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db-3", Namespace: "ns", UID: "pod-uid"}}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-db-3", Namespace: "ns"}}
	client := fake.NewClientset(pod, pvc)
	sc := &ssController{client: client, rec: record.NewFakeRecorder(10)}
	ctx := context.Background()
	if err := sc.condemn(ctx, set, pod); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Pods("ns").Get(ctx, "db-3", metav1.GetOptions{}); err == nil {
		t.Error("condemned pod not deleted")
	}
	got, err := client.CoreV1().PersistentVolumeClaims("ns").Get(ctx, "data-db-3", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owned := len(got.OwnerReferences) == 1 && got.OwnerReferences[0].UID == "pod-uid" && got.OwnerReferences[0].Kind == "Pod"
	if owned != want {
		t.Fatalf("scaled-down claim's owner references %+v; want owned by the pod: %v", got.OwnerReferences, want)
	}
}

// TestClaimFollowsWhenDeleted: a claim made under one whenDeleted policy follows
// a later change of it, keeping owners that are not the set.
func TestClaimFollowsWhenDeleted(t *testing.T) {
	const del, retain = appsv1.DeletePersistentVolumeClaimRetentionPolicyType, appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	other := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "x", UID: "other-uid"}
	for _, tc := range []struct {
		name      string
		set       *appsv1.StatefulSet
		setOwned  bool
		wantOwned bool
	}{
		{"retain to delete", retentionSet(del, ""), false, true},
		{"delete to retain", retentionSet(retain, ""), true, false},
		{"no policy drops the set", retentionSet("", ""), true, false},
		{"already owned", retentionSet(del, ""), true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refs := []metav1.OwnerReference{other}
			if tc.setOwned {
				refs = append(refs, setClaimRef(tc.set))
			}
			pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-db-0", Namespace: "ns", OwnerReferences: refs}}
			client := fake.NewClientset(pvc)
			sc := &ssController{client: client, rec: record.NewFakeRecorder(10)}
			ctx := context.Background()
			if err := sc.followRetention(ctx, tc.set, pvc); err != nil {
				t.Fatal(err)
			}
			got, _ := client.CoreV1().PersistentVolumeClaims("ns").Get(ctx, "data-db-0", metav1.GetOptions{})
			owned := false
			for _, r := range got.OwnerReferences {
				owned = owned || r.UID == tc.set.UID
			}
			if owned != tc.wantOwned || got.OwnerReferences[0].UID != "other-uid" {
				t.Errorf("owner references %+v; want the set: %v, and the other owner kept", got.OwnerReferences, tc.wantOwned)
			}
		})
	}
}
