package apiserver_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"skiff/internal/apiserver"
	"skiff/internal/testserver"
)

// httpAs is a plain HTTP client with the user's client certificate: client-go
// would retry a 429 by itself.
func httpAs(t *testing.T, srv *testserver.Server, user string, groups ...string) *http.Client {
	t.Helper()
	rc, err := srv.ClientConfig("test-"+user, user, groups)
	if err != nil {
		t.Fatal(err)
	}
	return httpClient(t, rc)
}

func httpClient(t *testing.T, rc *rest.Config) *http.Client {
	t.Helper()
	rt, err := rest.TransportFor(rc)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: rt}
}

// pfHeaders returns the UIDs of the FlowSchema and priority level a request was
// classified into, and its status code.
func pfHeaders(t *testing.T, c *http.Client, url string) (fs, pl string, code int) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get(flowcontrolv1.ResponseHeaderMatchedFlowSchemaUID),
		resp.Header.Get(flowcontrolv1.ResponseHeaderMatchedPriorityLevelConfigurationUID), resp.StatusCode
}

// waitFor retries check every 100ms for up to 30s.
func waitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = check(); err == nil {
			return
		}
	}
	t.Fatalf("%s: %v", what, err)
}

func TestFlowControlBootstrapConfigAndClassification(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	fc := srv.Client.FlowcontrolV1()
	var schemas []flowcontrolv1.FlowSchema
	waitFor(t, "bootstrap FlowSchemas and priority levels", func() error {
		fsl, err := fc.FlowSchemas().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		pll, err := fc.PriorityLevelConfigurations().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, want := range slices.Concat(bootstrap.MandatoryFlowSchemas, bootstrap.SuggestedFlowSchemas) {
			if !slices.ContainsFunc(fsl.Items, func(f flowcontrolv1.FlowSchema) bool { return f.Name == want.Name }) {
				return fmt.Errorf("no FlowSchema %s", want.Name)
			}
		}
		for _, want := range slices.Concat(bootstrap.MandatoryPriorityLevelConfigurations, bootstrap.SuggestedPriorityLevelConfigurations) {
			if !slices.ContainsFunc(pll.Items, func(p flowcontrolv1.PriorityLevelConfiguration) bool { return p.Name == want.Name }) {
				return fmt.Errorf("no PriorityLevelConfiguration %s", want.Name)
			}
		}
		for _, f := range fsl.Items {
			if len(f.Status.Conditions) == 0 || f.Status.Conditions[0].Type != flowcontrolv1.FlowSchemaConditionDangling ||
				f.Status.Conditions[0].Status != flowcontrolv1.ConditionFalse {
				return fmt.Errorf("FlowSchema %s has conditions %v, want Dangling=False", f.Name, f.Status.Conditions)
			}
		}
		schemas = fsl.Items
		return nil
	})
	uid := func(name string) string {
		for _, f := range schemas {
			if f.Name == name {
				return string(f.UID)
			}
		}
		t.Fatalf("no FlowSchema %s", name)
		return ""
	}
	// Who is classified where: the admin (system:masters) is exempt, the node agent
	// lands in system-nodes, any other user in global-default.
	for _, c := range []struct {
		user   string
		groups []string
		schema string
	}{
		{"admin", []string{"system:masters"}, "exempt"},
		{"system:node:n1", []string{"system:nodes"}, "system-nodes"},
		{"someone", nil, "global-default"},
	} {
		client := httpAs(t, srv, c.user, c.groups...)
		waitFor(t, c.user+"'s classification", func() error {
			// /version too, which the conformance spec asks with impersonation.
			for _, path := range []string{"/api", "/version"} {
				fs, pl, code := pfHeaders(t, client, srv.Config.Host+path)
				if code != http.StatusOK || fs != uid(c.schema) || pl == "" {
					return fmt.Errorf("GET %s: %d, FlowSchema UID %q (want %s's, %s), priority level UID %q", path, code, fs, c.schema, uid(c.schema), pl)
				}
			}
			return nil
		})
	}
	// /version stays public; unauthenticated, it is not classified.
	anonymous := httpClient(t, &rest.Config{Host: srv.Config.Host, TLSClientConfig: rest.TLSClientConfig{CAData: srv.Config.CAData}})
	if fs, _, code := pfHeaders(t, anonymous, srv.Config.Host+"/version"); code != http.StatusOK || fs != "" {
		t.Errorf("unauthenticated GET /version: %d, FlowSchema UID %q; want 200, unclassified", code, fs)
	}
	// Defaults and validation, as in Kubernetes; no warning that the kind is inert.
	cfg := rest.CopyConfig(srv.Config)
	warned := &warnings{}
	cfg.WarningHandler = warned
	made, err := kubernetes.NewForConfigOrDie(cfg).FlowcontrolV1().PriorityLevelConfigurations().Create(ctx, &flowcontrolv1.PriorityLevelConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "defaulted"},
		Spec: flowcontrolv1.PriorityLevelConfigurationSpec{Type: flowcontrolv1.PriorityLevelEnablementLimited,
			Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{LimitResponse: flowcontrolv1.LimitResponse{
				Type: flowcontrolv1.LimitResponseTypeQueue, Queuing: &flowcontrolv1.QueuingConfiguration{}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(warned.got) != 0 {
		t.Errorf("warnings on create = %q, want none", warned.got)
	}
	if l := made.Spec.Limited; *l.NominalConcurrencyShares != 30 || l.LimitResponse.Queuing.Queues != 64 || l.LimitResponse.Queuing.HandSize != 8 {
		t.Errorf("defaulted priority level = %+v", l)
	}
	_, err = fc.PriorityLevelConfigurations().Create(ctx, &flowcontrolv1.PriorityLevelConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "invalid"},
		Spec:       flowcontrolv1.PriorityLevelConfigurationSpec{Type: flowcontrolv1.PriorityLevelEnablementLimited},
	}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Errorf("a Limited priority level without spec.limited: err = %v, want Invalid", err)
	}
}

func TestFlowControlRejectsBeyondAPriorityLevelsSeats(t *testing.T) {
	var inside atomic.Int32
	release := make(chan struct{})
	srv := testserver.StartWith(t, func(s *apiserver.Server) {
		s.API.Extra["/slow"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inside.Add(1)
			<-release
		})
	})
	ctx := context.Background()
	c := srv.Client
	if _, err := c.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "slow"},
		Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/slow"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list", "watch"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "slow"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "slow"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "slowpoke"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// One share of the server's 600 seats (a few seats), nothing borrowed, and no
	// queue: whatever does not fit is rejected at once.
	if _, err := c.FlowcontrolV1().PriorityLevelConfigurations().Create(ctx, &flowcontrolv1.PriorityLevelConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "tiny"},
		Spec: flowcontrolv1.PriorityLevelConfigurationSpec{Type: flowcontrolv1.PriorityLevelEnablementLimited,
			Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{NominalConcurrencyShares: ptr.To[int32](1),
				BorrowingLimitPercent: ptr.To[int32](0), LimitResponse: flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeReject}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fs, err := c.FlowcontrolV1().FlowSchemas().Create(ctx, &flowcontrolv1.FlowSchema{
		ObjectMeta: metav1.ObjectMeta{Name: "slowpoke"},
		Spec: flowcontrolv1.FlowSchemaSpec{PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "tiny"},
			MatchingPrecedence: 100,
			Rules: []flowcontrolv1.PolicyRulesWithSubjects{{
				Subjects: []flowcontrolv1.Subject{{Kind: flowcontrolv1.SubjectKindUser, User: &flowcontrolv1.UserSubject{Name: "slowpoke"}}},
				ResourceRules: []flowcontrolv1.ResourcePolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"},
					ClusterScope: true, Namespaces: []string{"*"}}},
				NonResourceRules: []flowcontrolv1.NonResourcePolicyRule{{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}},
			}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	slowpoke := httpAs(t, srv, "slowpoke")
	admin := httpClient(t, srv.Config)
	waitFor(t, "slowpoke and the admin classified by the cluster's FlowSchemas", func() error {
		if got, _, _ := pfHeaders(t, slowpoke, srv.Config.Host+"/api"); got != string(fs.UID) {
			return fmt.Errorf("FlowSchema UID %q, want %q", got, fs.UID)
		}
		if got, _, _ := pfHeaders(t, admin, srv.Config.Host+"/api"); got == "" {
			return fmt.Errorf("the admin's request is not classified yet")
		}
		return nil
	})

	// Watches hold their seats only until they start: more of them than the level
	// has seats all start.
	for i := range 6 {
		resp, err := slowpoke.Get(srv.Config.Host + "/api/v1/namespaces/default/configmaps?watch=1")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("watch %d: %s, want 200 (a started watch gives its seat back)", i, resp.Status)
		}
	}

	const n = 10
	codes := make(chan *http.Response, n)
	for range n {
		go func() {
			resp, err := slowpoke.Get(srv.Config.Host + "/slow")
			if err != nil {
				t.Error(err)
				codes <- nil
				return
			}
			resp.Body.Close()
			codes <- resp
		}()
	}
	// While slowpoke's seats are taken, the rest of its requests are turned away...
	var rejected int
	for deadline := time.After(30 * time.Second); rejected < n-int(inside.Load()); {
		select {
		case resp := <-codes:
			if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("slowpoke's request beyond its seats: %v, want 429 with Retry-After", resp)
			}
			rejected++
		case <-time.After(50 * time.Millisecond): // one more may have got in meanwhile
		case <-deadline:
			t.Fatalf("%d of slowpoke's %d requests inside, %d rejected", inside.Load(), n, rejected)
		}
	}
	if rejected == 0 || inside.Load() == 0 {
		t.Fatalf("%d requests inside and %d rejected, want some of each", inside.Load(), rejected)
	}
	// ...while the admin is unaffected.
	if fsUID, _, code := pfHeaders(t, admin, srv.Config.Host+"/api"); code != http.StatusOK || fsUID == "" {
		t.Fatalf("admin's request while slowpoke is saturated: %d (FlowSchema UID %q)", code, fsUID)
	}
	close(release)
	for range n - rejected {
		if resp := <-codes; resp == nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("slowpoke's admitted request: %v, want 200", resp)
		}
	}
	t.Logf("%d of %d concurrent requests admitted, %d rejected with 429", n-rejected, n, rejected)
}
