package kubelet

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	critest "k8s.io/cri-api/pkg/apis/testing"

	"skiff/internal/kubelet/volume"
)

// fakeNode is a kubelet whose runtime is k8s.io/cri-api's fake and whose API server
// is client-go's fake clientset, for driving pod workers step by step.
type fakeNode struct {
	t       *testing.T
	k       *Kubelet
	rt      *critest.FakeRuntimeService
	images  *critest.FakeImageService
	client  *fake.Clientset
	pods    cache.Indexer
	events  *record.FakeRecorder
	workers map[types.UID]*podWorker
	views   *fakeViews
}

const fakeNodeName = "node-1"

func newFakeNode(t *testing.T) *fakeNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	client := fake.NewClientset()
	pods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	events := record.NewFakeRecorder(1000)
	rs, is := critest.NewFakeRuntimeService(), critest.NewFakeImageService()
	k := &Kubelet{
		cfg:       Config{NodeName: fakeNodeName, NodeIPs: []string{"10.0.0.1"}, RootDir: dir, CgroupPrefix: "/skiff-test", ClusterDomain: "cluster.local"},
		client:    client,
		runtime:   newRuntimeManager(rs, is, fakeNodeName),
		recorder:  events,
		podLister: corelisters.NewPodLister(pods),
		cgroups:   &cgroupManager{prefix: "/skiff-test", root: t.TempDir()},
		restarts:  newBackoff(10*time.Second, 5*time.Minute, 10*time.Minute),
		pulls:     newBackoff(10*time.Second, 5*time.Minute, 10*time.Minute),
		workers:   map[string]*podWorker{},
		metrics:   newKubeletMetrics(),
		resizes:   newResizeTracker(),
	}
	k.networkReady.Store(true)
	k.probes = newProber(k)
	k.statuses = newStatusManager(client)
	views := &fakeViews{mounted: map[string]string{}}
	k.volumes = volume.New(ctx, volume.Config{Root: dir, Client: client, Recorder: events,
		Wake: func(types.UID, string, string) {}, Resource: k.volumeResource, Images: views})
	return &fakeNode{t: t, k: k, rt: rs, images: is, client: client, pods: pods, events: events, workers: map[types.UID]*podWorker{}, views: views}
}

// add creates pod in the API as bound to the node.
func (n *fakeNode) add(pod *corev1.Pod) {
	n.t.Helper()
	pod.Spec.NodeName = fakeNodeName
	if pod.Namespace == "" {
		pod.Namespace = "default"
	}
	if pod.UID == "" {
		pod.UID = types.UID("uid-" + pod.Name)
	}
	if _, err := n.client.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		n.t.Fatal(err)
	}
}

// sync runs one step of the pod's worker against the API's current pod, as an
// informer event would, and returns when it asks to look again.
func (n *fakeNode) sync(name string) time.Duration {
	n.t.Helper()
	pod := n.get(name)
	uid := types.UID("uid-" + name)
	if pod != nil {
		uid = pod.UID
		_ = n.pods.Update(pod)
	} else {
		_ = n.pods.Delete(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}})
	}
	w := n.workers[uid]
	if w == nil {
		w = newPodWorker(n.k, uid, "default", name)
		n.workers[uid] = w
	}
	_, requeue := w.sync(context.Background(), w.currentPod())
	return requeue
}

// get is the pod as the API holds it, nil once it is gone.
func (n *fakeNode) get(name string) *corev1.Pod {
	pod, err := n.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return pod
}

// container is the fake runtime's newest run of the named container.
func (n *fakeNode) container(name string) *critest.FakeContainer {
	n.rt.Lock()
	defer n.rt.Unlock()
	var newest *critest.FakeContainer
	for _, c := range n.rt.Containers {
		if c.Metadata.Name == name && (newest == nil || c.Metadata.Attempt > newest.Metadata.Attempt) {
			newest = c
		}
	}
	return newest
}

// exit makes the named container's newest run exit with code.
func (n *fakeNode) exit(name string, code int32) {
	c := n.container(name)
	if c == nil {
		n.t.Fatalf("no container %s", name)
	}
	n.rt.Lock()
	defer n.rt.Unlock()
	c.State, c.ExitCode, c.FinishedAt = runtimeapi.ContainerState_CONTAINER_EXITED, code, time.Now().UnixNano()
}

// sawEvent reports whether an event containing reason was recorded.
func (n *fakeNode) sawEvent(reason string) bool {
	for {
		select {
		case e := <-n.events.Events:
			if strings.Contains(e, reason) {
				return true
			}
		default:
			return false
		}
	}
}

func (n *fakeNode) called(method string) int {
	count := 0
	for _, c := range n.rt.GetCalls() {
		if c == method {
			count++
		}
	}
	return count
}
