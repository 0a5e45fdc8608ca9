package aggregator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"k8s.io/kube-aggregator/pkg/apis/apiregistration/v1/helper"
	clientset "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset/typed/apiregistration/v1"
)

// checkEvery is how often backends are asked whether they answer.
const checkEvery = 5 * time.Second

// RunAvailability keeps every APIService's Available condition current until ctx
// ends: True (Local) for those skiff serves, True (Passed) when the backend answers
// discovery for the group/version, False with the reason otherwise.
func (p *Proxy) RunAvailability(ctx context.Context, client clientset.APIServicesGetter) {
	t := time.NewTicker(checkEvery)
	defer t.Stop()
	for {
		list, _ := p.apiServices.List(labels.Everything())
		for _, svc := range list {
			cond, resources := p.check(ctx, svc)
			p.setResources(svc.Name, resources)
			cur := helper.GetAPIServiceConditionByType(svc, apiregistrationv1.Available)
			if cur != nil && cur.Status == cond.Status && cur.Reason == cond.Reason && cur.Message == cond.Message {
				continue
			}
			upd := svc.DeepCopy()
			helper.SetAPIServiceCondition(upd, cond)
			if _, err := client.APIServices().UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
				slog.Warn("update APIService status", "apiservice", svc.Name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check asks svc's backend for its discovery document, and returns the condition
// that follows and the document when there is one.
func (p *Proxy) check(ctx context.Context, svc *apiregistrationv1.APIService) (apiregistrationv1.APIServiceCondition, *metav1.APIResourceList) {
	cond := func(ok bool, reason, msg string) apiregistrationv1.APIServiceCondition {
		c := helper.NewLocalAvailableAPIServiceCondition()
		c.Reason, c.Message = reason, msg
		if !ok {
			c.Status = apiregistrationv1.ConditionFalse
		}
		return c
	}
	if svc.Spec.Service == nil {
		return cond(true, "Local", "Local APIServices are always available"), nil
	}
	target, tr, err := p.backend(svc)
	if err != nil {
		return cond(false, "MissingEndpoints", err.Error()), nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u := *target
	u.Path = "/apis/" + svc.Spec.Group + "/" + svc.Spec.Version
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	frontProxyHeaders(req.Header, nil)
	req.Header.Set("X-Remote-User", "system:kube-aggregator")
	req.Header.Add("X-Remote-Group", "system:masters")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return cond(false, "FailedDiscoveryCheck", fmt.Sprintf("failing or missing response from %s: %v", u.String(), err)), nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return cond(false, "FailedDiscoveryCheck", fmt.Sprintf("failing or missing response from %s: bad status from %s: %d", u.String(), u.String(), resp.StatusCode)), nil
	}
	var list metav1.APIResourceList
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&list); err != nil {
		return cond(false, "FailedDiscoveryCheck", fmt.Sprintf("the discovery document from %s does not decode: %v", u.String(), err)), nil
	}
	return cond(true, "Passed", "all checks passed"), &list
}
