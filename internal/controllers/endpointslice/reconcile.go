package endpointslice

import (
	"cmp"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/controllers/endpoints"
)

// plan is the writes that bring a service's slices to the desired state.
type plan struct {
	create, update, del []*discoveryv1.EndpointSlice
}

// owner is what slices are written for: a Service, and the controller managing them
// (this one, or the mirroring of a selector-less Service's own Endpoints).
type owner struct {
	svc     *corev1.Service
	manager string
}

// Reconcile places the desired endpoints into slices of at most max endpoints, keeping
// each endpoint in the slice that already holds it and filling existing slices before
// making new ones, so that a change to one pod rewrites one slice.
func Reconcile(svc *corev1.Service, existing []*discoveryv1.EndpointSlice, desired map[string]*group, max int) plan {
	return reconcile(owner{svc, ControllerName}, existing, desired, max)
}

func reconcile(o owner, existing []*discoveryv1.EndpointSlice, desired map[string]*group, max int) plan {
	svc := o.svc
	var p plan
	byGroup := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		k := groupKey(s.AddressType, s.Ports)
		byGroup[k] = append(byGroup[k], s)
	}
	for _, k := range slices.Sorted(maps.Keys(desired)) {
		place(&p, o, byGroup[k], desired[k], max)
		delete(byGroup, k)
	}
	var leftovers []*discoveryv1.EndpointSlice
	for _, k := range slices.Sorted(maps.Keys(byGroup)) {
		leftovers = append(leftovers, byGroup[k]...)
	}
	if len(desired) == 0 {
		// A service without endpoints keeps one empty slice, so readers can tell "no
		// endpoints" from "not processed yet".
		if len(leftovers) == 0 {
			p.create = append(p.create, newSlice(o, addressType(endpoints.Family(svc)), nil, nil))
		} else {
			keep := leftovers[0]
			want := withContent(o, keep, addressType(endpoints.Family(svc)), nil, nil)
			if !sameSlice(keep, want) {
				p.update = append(p.update, want)
			}
			leftovers = leftovers[1:]
		}
	}
	// Slices no group wants any more are rewritten rather than replaced: one update
	// instead of a delete and a create.
	for len(leftovers) > 0 && len(p.create) > 0 {
		reuse := p.create[0].DeepCopy()
		reuse.ObjectMeta = *leftovers[0].ObjectMeta.DeepCopy()
		reuse.Labels, reuse.OwnerReferences = p.create[0].Labels, p.create[0].OwnerReferences
		p.update = append(p.update, reuse)
		p.create, leftovers = p.create[1:], leftovers[1:]
	}
	p.del = append(p.del, leftovers...)
	return p
}

// place puts one group's endpoints into its existing slices and new ones.
func place(p *plan, o owner, have []*discoveryv1.EndpointSlice, g *group, max int) {
	slices.SortFunc(have, func(a, b *discoveryv1.EndpointSlice) int { return cmp.Compare(a.Name, b.Name) })
	want := map[string]discoveryv1.Endpoint{}
	for _, e := range g.endpoints {
		want[endpointKey(e)] = e
	}
	contents := make([][]discoveryv1.Endpoint, len(have))
	for i, s := range have {
		for _, e := range s.Endpoints {
			k := endpointKey(e)
			if d, ok := want[k]; ok && len(contents[i]) < max {
				contents[i] = append(contents[i], d)
				delete(want, k)
			}
		}
	}
	var fresh []discoveryv1.Endpoint
	for _, e := range g.endpoints {
		if _, ok := want[endpointKey(e)]; ok {
			fresh = append(fresh, e)
		}
	}
	for i := range contents {
		n := min(max-len(contents[i]), len(fresh))
		contents[i] = append(contents[i], fresh[:n]...)
		fresh = fresh[n:]
	}
	for i, s := range have {
		if len(contents[i]) == 0 {
			p.del = append(p.del, s)
			continue
		}
		w := withContent(o, s, g.addressType, g.ports, contents[i])
		if !sameSlice(s, w) {
			p.update = append(p.update, w)
		}
	}
	for len(fresh) > 0 {
		n := min(max, len(fresh))
		p.create = append(p.create, newSlice(o, g.addressType, g.ports, fresh[:n]))
		fresh = fresh[n:]
	}
}

// sliceLabels are the service's labels plus the ones that tie a slice to it and its manager.
func sliceLabels(o owner) map[string]string {
	l := endpoints.Labels(o.svc)
	l[discoveryv1.LabelServiceName] = o.svc.Name
	l[discoveryv1.LabelManagedBy] = o.manager
	return l
}

func ownerRef(svc *corev1.Service) metav1.OwnerReference {
	t := true
	return metav1.OwnerReference{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID, Controller: &t, BlockOwnerDeletion: &t}
}

func newSlice(o owner, at discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps []discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	prefix := o.svc.Name
	if len(prefix) > 57 { // leave room for the random suffix within 63 characters
		prefix = prefix[:57]
	}
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-", Namespace: o.svc.Namespace}}
	return withContent(o, s, at, ports, eps)
}

func withContent(o owner, s *discoveryv1.EndpointSlice, at discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps []discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	out := s.DeepCopy()
	out.Labels = sliceLabels(o)
	out.OwnerReferences = []metav1.OwnerReference{ownerRef(o.svc)}
	out.AddressType, out.Ports, out.Endpoints = at, ports, eps
	if len(out.Ports) == 0 {
		out.Ports = nil
	}
	return out
}

func sameSlice(a, b *discoveryv1.EndpointSlice) bool {
	return a.AddressType == b.AddressType &&
		apiequality.Semantic.DeepEqual(a.Labels, b.Labels) &&
		apiequality.Semantic.DeepEqual(a.OwnerReferences, b.OwnerReferences) &&
		apiequality.Semantic.DeepEqual(emptyNil(a.Ports), emptyNil(b.Ports)) &&
		apiequality.Semantic.DeepEqual(emptyNil(a.Endpoints), emptyNil(b.Endpoints))
}

func emptyNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
