package apiserver

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"skiff/internal/auth"
	"skiff/internal/resources"
	"skiff/internal/volumebinding"
	"skiff/internal/volumesnapshot"
	"skiff/internal/vpa"
)

// bootstrap creates the objects every cluster has, if they are missing.
func (a *API) bootstrap(ctx context.Context, cfg Config, addr *net.TCPAddr) error {
	ns := func(name string) runtime.Object {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	}
	pc := func(name string, value int32, desc string) runtime.Object {
		return &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value, Description: desc}
	}
	serviceCIDR, err := serviceRange(cfg.ServiceCIDR)
	if err != nil {
		return err
	}
	apiIP := resources.NthAddr(serviceCIDR, 1).String()
	objs := []struct {
		gvr string
		obj runtime.Object
	}{
		{"namespaces", ns("default")},
		{"namespaces", ns("kube-system")},
		{"namespaces", ns("kube-public")},
		{"namespaces", ns("kube-node-lease")},
		{"priorityclasses", pc("system-cluster-critical", 2000000000, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.")},
		{"priorityclasses", pc("system-node-critical", 2000001000, "Used for system critical pods that must not be moved from their current node.")},
		{"storageclasses", localPathClass()},
		{"servicecidrs", defaultServiceCIDR(cfg)},
		{"services", &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
				Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
			Spec: corev1.ServiceSpec{ClusterIP: apiIP, Ports: []corev1.ServicePort{{
				Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(int32(addr.Port)),
			}}},
		}},
	}
	for _, o := range objs {
		if err := a.ensure(ctx, o.gvr, o.obj); err != nil {
			return err
		}
	}
	if len(a.caPEM) > 0 { // replaced at every start: the server's address can change
		info, err := clusterInfo("https://"+net.JoinHostPort(advertiseAddress(cfg.BindAddress), strconv.Itoa(addr.Port)), a.caPEM)
		if err != nil {
			return err
		}
		if err := a.upsert(ctx, "configmaps", info); err != nil {
			return err
		}
		if err := a.upsert(ctx, "configmaps", extensionAuthentication(a.caPEM)); err != nil {
			return err
		}
	}
	for _, o := range defaultPolicy() {
		resource := "clusterroles"
		switch o.(type) {
		case *rbacv1.ClusterRoleBinding:
			resource = "clusterrolebindings"
		case *rbacv1.Role:
			resource = "roles"
		}
		if err := a.ensure(ctx, resource, o); err != nil {
			return err
		}
	}
	// The VPA's and the volume snapshots' kinds are CRDs, as upstream serves them,
	// installed like built-ins.
	crds, err := vpa.CRDs()
	if err != nil {
		return err
	}
	snapshotCRDs, err := volumesnapshot.CRDs()
	if err != nil {
		return err
	}
	crds = append(crds, snapshotCRDs...)
	for _, crd := range crds {
		if err := a.ensure(ctx, "customresourcedefinitions", crd); err != nil {
			return err
		}
	}
	return a.ensureLocalAPIServices(ctx)
}

// clusterInfo is kube-public/cluster-info as kubeadm publishes it: a kubeconfig with
// the server and CA and no credentials, which a joining machine reads with its join
// token before it trusts anything else.
func clusterInfo(server string, caPEM []byte) (*corev1.ConfigMap, error) {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[""] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: auth.ClusterInfoName, Namespace: auth.ClusterInfoNamespace},
		Data: map[string]string{"kubeconfig": string(data)}}, nil
}

// extensionAuthName is the ConfigMap in kube-system that tells aggregated API servers
// whom to trust, under the name Kubernetes gives it.
const extensionAuthName = "extension-apiserver-authentication"

// extensionAuthentication says whom an aggregated API server trusts: client
// certificates from the cluster CA, and the aggregator's front-proxy-client
// certificate (also from the cluster CA) for the X-Remote-* headers it sends.
func extensionAuthentication(caPEM []byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: extensionAuthName, Namespace: "kube-system"},
		Data: map[string]string{
			"client-ca-file":                     string(caPEM),
			"requestheader-client-ca-file":       string(caPEM),
			"requestheader-allowed-names":        `["front-proxy-client"]`,
			"requestheader-username-headers":     `["X-Remote-User"]`,
			"requestheader-uid-headers":          `["X-Remote-Uid"]`,
			"requestheader-group-headers":        `["X-Remote-Group"]`,
			"requestheader-extra-headers-prefix": `["X-Remote-Extra-"]`,
		}}
}

// localPathClass is the default StorageClass: a directory on the node of the
// claim's first pod, made by that node's agent (see internal/localpath).
func localPathClass() *storagev1.StorageClass {
	return &storagev1.StorageClass{
		ObjectMeta:           metav1.ObjectMeta{Name: volumebinding.LocalPathClass, Annotations: map[string]string{defaultClassAnnotation: "true"}},
		Provisioner:          volumebinding.LocalPathProvisioner,
		ReclaimPolicy:        ptr.To(corev1.PersistentVolumeReclaimDelete),
		VolumeBindingMode:    ptr.To(storagev1.VolumeBindingWaitForFirstConsumer),
		AllowVolumeExpansion: ptr.To(true),
	}
}

// ensure creates obj through the normal create pipeline unless it exists.
func (a *API) ensure(ctx context.Context, resource string, obj runtime.Object) error {
	for gvr, ep := range a.endpoints {
		if gvr.Resource != resource || gvr.GroupVersion() != ep.Storage {
			continue
		}
		obj.GetObjectKind().SetGroupVersionKind(ep.StorageGVK())
		m := obj.(metav1.Object)
		ns := m.GetNamespace()
		if _, err := ep.store.Get(ctx, ns, m.GetName()); err == nil || !apierrors.IsNotFound(err) {
			return err
		}
		_, err := a.createObject(ctx, ep, ns, obj, writeOptions{manager: "skiff"}, true)
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	return nil
}

// defaultServiceCIDR is the range --service-cidr gives, under the name
// Kubernetes gives the default ServiceCIDR; it comes back if deleted.
func defaultServiceCIDR(cfg Config) *networkingv1.ServiceCIDR {
	p, _ := serviceRange(cfg.ServiceCIDR) // checked at start
	return &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes"},
		Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{p.String()}}}
}

// serviceRange is --service-cidr, which must be an IPv4 range: skiff is
// single-stack.
func serviceRange(cidr string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("service CIDR %q: %w", cidr, err)
	}
	if !p.Addr().Is4() || p.Bits() > 30 || p.Bits() < 12 {
		return netip.Prefix{}, fmt.Errorf("service CIDR %q must be an IPv4 range between /12 and /30", cidr)
	}
	return p.Masked(), nil
}
