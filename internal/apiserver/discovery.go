package apiserver

import (
	"encoding/json"
	"net/http"
	"slices"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/resources"
)

var (
	objectVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	// subresources: verbs and the kind their requests and responses carry.
	subresourceVerbs = map[string]metav1.Verbs{
		"status": {"get", "patch", "update"}, "scale": {"get", "patch", "update"},
		"binding": {"create"}, "eviction": {"create"}, "log": {"get"},
		"exec": {"create", "get"}, "attach": {"create", "get"}, "portforward": {"create", "get"},
		"proxy": {"create", "delete", "get", "patch", "update"}, "finalize": {"update"},
		"token": {"create"}, "ephemeralcontainers": {"get", "patch", "update"},
		"resize": {"get", "patch", "update"},
	}
	subresourceKinds = map[string]schema.GroupVersionKind{
		"scale":       {Group: "autoscaling", Version: "v1", Kind: "Scale"},
		"binding":     {Version: "v1", Kind: "Binding"},
		"eviction":    {Group: "policy", Version: "v1", Kind: "Eviction"},
		"exec":        {Version: "v1", Kind: "PodExecOptions"},
		"attach":      {Version: "v1", Kind: "PodAttachOptions"},
		"portforward": {Version: "v1", Kind: "PodPortForwardOptions"},
		"proxy":       {Version: "v1", Kind: "PodProxyOptions"},
		"token":       {Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"},
	}
)

func verbsOf(i *resources.Info) metav1.Verbs {
	if i.ReadOnly {
		return metav1.Verbs{"get", "list"}
	}
	if i.Virtual {
		return metav1.Verbs{"create"}
	}
	return objectVerbs
}

// groupVersions lists group/versions in discovery order: groups as they first appear
// in the resource table, each group's preferred (stored) version first.
func (a *API) groupVersions() []schema.GroupVersion {
	var out []schema.GroupVersion
	seen := map[schema.GroupVersion]bool{}
	for _, preferredPass := range []bool{true, false} {
		for _, i := range a.allInfos() {
			gv := i.GroupVersion()
			if seen[gv] || (gv == i.Storage) != preferredPass {
				continue
			}
			seen[gv] = true
			out = append(out, gv)
		}
	}
	// Stable: group order of first appearance, preferred version first.
	order := map[string]int{}
	for _, gv := range out {
		if _, ok := order[gv.Group]; !ok {
			order[gv.Group] = len(order)
		}
	}
	sorted := make([]schema.GroupVersion, 0, len(out))
	for g := 0; g < len(order); g++ {
		for _, gv := range out {
			if order[gv.Group] == g {
				sorted = append(sorted, gv)
			}
		}
	}
	return sorted
}

func (a *API) infosOf(gv schema.GroupVersion) []*resources.Info {
	var out []*resources.Info
	for _, i := range a.allInfos() {
		if i.GroupVersion() == gv {
			out = append(out, i)
		}
	}
	return out
}

// serveDiscovery answers /api, /apis and the group and version documents.
func (a *API) serveDiscovery(w http.ResponseWriter, r *http.Request) bool {
	parts := splitPath(r.URL.Path)
	switch {
	case len(parts) == 1 && parts[0] == "api":
		if a.aggregated(w, r, true) {
			return true
		}
		writeJSON(w, &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}}})
	case len(parts) == 1 && parts[0] == "apis":
		if a.aggregated(w, r, false) {
			return true
		}
		list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
		for _, g := range a.groups() {
			list.Groups = append(list.Groups, g)
		}
		writeJSON(w, list)
	case len(parts) == 2 && parts[0] == "apis":
		for _, g := range a.groups() {
			if g.Name == parts[1] {
				g.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
				writeJSON(w, &g)
				return true
			}
		}
		return false
	case len(parts) == 2 && parts[0] == "api" && parts[1] == "v1":
		writeJSON(w, a.resourceList(schema.GroupVersion{Version: "v1"}))
	case len(parts) == 3 && parts[0] == "apis":
		gv := schema.GroupVersion{Group: parts[1], Version: parts[2]}
		if len(a.infosOf(gv)) == 0 {
			return false
		}
		writeJSON(w, a.resourceList(gv))
	default:
		return false
	}
	return true
}

func (a *API) groups() []metav1.APIGroup {
	var out []metav1.APIGroup
	idx := map[string]int{}
	gvs := a.groupVersions()
	if a.Aggregator != nil { // APIServices' groups, after skiff's own
		for _, gv := range a.Aggregator.GroupVersions() {
			if !slices.Contains(gvs, gv) {
				gvs = append(gvs, gv)
			}
		}
	}
	for _, gv := range gvs {
		if gv.Group == "" {
			continue
		}
		v := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
		i, ok := idx[gv.Group]
		if !ok {
			idx[gv.Group] = len(out)
			out = append(out, metav1.APIGroup{Name: gv.Group, PreferredVersion: v})
			i = len(out) - 1
		}
		out[i].Versions = append(out[i].Versions, v)
	}
	return out
}

func (a *API) resourceList(gv schema.GroupVersion) *metav1.APIResourceList {
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	for _, i := range a.infosOf(gv) {
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: i.Resource, SingularName: i.Singular, Namespaced: i.Namespaced, Kind: i.Kind,
			Verbs: verbsOf(i), ShortNames: i.ShortNames, Categories: i.Categories,
		})
		for _, sub := range i.Subresources {
			r := metav1.APIResource{Name: i.Resource + "/" + sub, Namespaced: i.Namespaced, Kind: i.Kind, Verbs: subresourceVerbs[sub]}
			if k, ok := subresourceKinds[sub]; ok {
				r.Group, r.Version, r.Kind = k.Group, k.Version, k.Kind
			}
			list.APIResources = append(list.APIResources, r)
		}
	}
	return list
}

// aggregated serves the apidiscovery.k8s.io/v2 document when the client asks for it.
func (a *API) aggregated(w http.ResponseWriter, r *http.Request, legacy bool) bool {
	out, err := negotiate(r)
	if err != nil || out.as != "APIGroupDiscoveryList" {
		return false
	}
	list := &apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
	for _, gv := range a.groupVersions() {
		if (gv.Group == "") != legacy {
			continue
		}
		if n := len(list.Items); n == 0 || list.Items[n-1].Name != gv.Group {
			list.Items = append(list.Items, apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: gv.Group}})
		}
		g := &list.Items[len(list.Items)-1]
		v := apidiscoveryv2.APIVersionDiscovery{Version: gv.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
		for _, i := range a.infosOf(gv) {
			scope := apidiscoveryv2.ScopeCluster
			if i.Namespaced {
				scope = apidiscoveryv2.ScopeNamespace
			}
			res := apidiscoveryv2.APIResourceDiscovery{
				Resource: i.Resource, SingularResource: i.Singular, Scope: scope, Verbs: verbsOf(i),
				ResponseKind: &metav1.GroupVersionKind{Group: gv.Group, Version: gv.Version, Kind: i.Kind},
				ShortNames:   i.ShortNames, Categories: i.Categories,
			}
			for _, sub := range i.Subresources {
				k := metav1.GroupVersionKind{Group: gv.Group, Version: gv.Version, Kind: i.Kind}
				if sk, ok := subresourceKinds[sub]; ok {
					k = metav1.GroupVersionKind{Group: sk.Group, Version: sk.Version, Kind: sk.Kind}
				}
				res.Subresources = append(res.Subresources, apidiscoveryv2.APISubresourceDiscovery{Subresource: sub, ResponseKind: &k, Verbs: subresourceVerbs[sub]})
			}
			v.Resources = append(v.Resources, res)
		}
		g.Versions = append(g.Versions, v)
	}
	if !legacy {
		a.aggregatedDiscovery(list)
	}
	data, _ := json.Marshal(list)
	w.Header().Set("Content-Type", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
	w.Header().Set("Vary", "Accept")
	_, _ = w.Write(data)
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(data)
}
