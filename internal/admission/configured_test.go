package admission

import (
	"context"
	"testing"
	"time"

	regv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

type countingValidator struct{ calls *int }

func (countingValidator) Handles(admission.Operation) bool { return true }

func (c countingValidator) Validate(context.Context, admission.Attributes, admission.ObjectInterfaces) error {
	*c.calls++
	return nil
}

// TestPluginRunsOnlyWhenConfigured: the plugin runs (and would wait) until its
// informer has synced, is left out while there is no configuration, and runs
// again as soon as one exists.
func TestPluginRunsOnlyWhenConfigured(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	configs := factory.Admissionregistration().V1().ValidatingWebhookConfigurations().Informer()
	calls := 0
	p := whenConfigured(countingValidator{&calls}, configs).(admission.ValidationInterface)
	validate := func() { _ = p.Validate(ctx, nil, nil) }

	validate()
	if calls != 1 {
		t.Fatalf("before the informer synced: %d calls, want the plugin to run", calls)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	validate()
	if calls != 1 {
		t.Fatalf("with no configuration: %d calls, want the plugin left out", calls)
	}
	cfg := &regv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "hooks"}}
	if _, err := client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return len(configs.GetStore().ListKeys()) == 1, nil
	}); err != nil {
		t.Fatal("the informer never saw the configuration")
	}
	validate()
	if calls != 2 {
		t.Fatalf("with a configuration: %d calls, want the plugin to run", calls)
	}
}
