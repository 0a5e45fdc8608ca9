package simulate

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

	"skiff/internal/controllers/clusterautoscaler"
	"skiff/internal/nodepool"
	"skiff/internal/resources"
	"skiff/internal/scheduler"
)

// Plan is `skiff simulate plan -f manifests/ --pool ...`: with no cluster at all, it
// expands the manifests' workloads into their pods and prints how many nodes of each
// pool they need, decided as the cluster autoscaler would decide it.
func Plan(ctx context.Context, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("simulate plan", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var files []string
	var pools []nodepool.Pool
	fs.Func("f", "manifest file or directory (repeatable)", func(s string) error { files = append(files, s); return nil })
	fs.Var(poolFlags{&pools}, "pool", "node pool name=NAME,cpu=N,memory=Q,min=N,max=N[,labels=k=v;...][,taints=k=v:Effect;...] (repeatable)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\nusage: skiff simulate plan -f FILE|DIR... --pool SPEC...\n%s", err, flagUsage(fs))
	}
	if len(files) == 0 || len(pools) == 0 {
		return errors.New("skiff simulate plan needs -f with the manifests and at least one --pool")
	}
	pods, skipped, err := podsFromManifests(files)
	if err != nil {
		return err
	}
	desired, noFit := clusterautoscaler.PlanCapacity(ctx, scheduler.NewFitChecker(), pools, pods)
	printPlan(w, pools, desired, len(pods), noFit, pods, skipped)
	return nil
}

func printPlan(w io.Writer, pools []nodepool.Pool, desired map[string]int, total int, noFit map[types.UID]string, pods []*v1.Pod, skipped []string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POOL\tNODES\tMIN\tMAX")
	for _, p := range pools {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", p.Name, desired[p.Name], p.Min, p.Max)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\n%d pods; %d fit no pool\n", total, len(noFit))
	for _, p := range pods {
		if why, ok := noFit[p.UID]; ok {
			fmt.Fprintf(w, "  %s/%s: %s\n", p.Namespace, p.Name, why)
		}
	}
	for _, s := range skipped {
		fmt.Fprintf(w, "not counted: %s\n", s)
	}
}

// podsFromManifests reads every YAML or JSON document under files and turns the
// workloads into the pods their controllers would create. What does not run as
// counted pods (DaemonSets: one per node; CronJobs: later) is listed as skipped.
func podsFromManifests(files []string) ([]*v1.Pod, []string, error) {
	var paths []string
	for _, f := range files {
		err := filepath.WalkDir(f, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			ext := strings.ToLower(filepath.Ext(p))
			if !d.IsDir() && (p == f || ext == ".yaml" || ext == ".yml" || ext == ".json") {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	sort.Strings(paths)
	var pods []*v1.Pod
	var skipped []string
	for _, p := range paths {
		objs, err := readObjects(p)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		for _, o := range objs {
			ps, skip := expand(o)
			pods = append(pods, ps...)
			if skip != "" {
				skipped = append(skipped, skip)
			}
		}
	}
	return pods, skipped, nil
}

func readObjects(path string) ([]runtime.Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var out []runtime.Object
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(string(doc)) == "" {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			continue // a kind that runs no pods, or one this planner does not know
		}
		out = append(out, obj)
	}
}

// expand returns the pods a workload creates (its replicas, or a Job's parallelism).
func expand(obj runtime.Object) ([]*v1.Pod, string) {
	one := func(p *int32) int {
		if p == nil {
			return 1
		}
		return int(*p)
	}
	switch o := obj.(type) {
	case *v1.Pod:
		return []*v1.Pod{withDefaults(o.DeepCopy())}, ""
	case *appsv1.Deployment:
		return replicas(o.ObjectMeta, "Deployment", o.Spec.Template, one(o.Spec.Replicas)), ""
	case *appsv1.ReplicaSet:
		return replicas(o.ObjectMeta, "ReplicaSet", o.Spec.Template, one(o.Spec.Replicas)), ""
	case *appsv1.StatefulSet:
		return replicas(o.ObjectMeta, "StatefulSet", o.Spec.Template, one(o.Spec.Replicas)), ""
	case *v1.ReplicationController:
		if o.Spec.Template == nil {
			return nil, ""
		}
		return replicas(o.ObjectMeta, "ReplicationController", *o.Spec.Template, one(o.Spec.Replicas)), ""
	case *batchv1.Job:
		n := one(o.Spec.Parallelism)
		if o.Spec.Completions != nil {
			n = min(n, int(*o.Spec.Completions))
		}
		return replicas(o.ObjectMeta, "Job", o.Spec.Template, n), ""
	case *appsv1.DaemonSet:
		return nil, "DaemonSet " + o.Name + " (one pod per node)"
	case *batchv1.CronJob:
		return nil, "CronJob " + o.Name + " (runs on a schedule)"
	}
	return nil, ""
}

func replicas(owner metav1.ObjectMeta, kind string, t v1.PodTemplateSpec, n int) []*v1.Pod {
	ns := owner.Namespace
	if ns == "" {
		ns = "default"
	}
	uid := types.UID(kind + "/" + ns + "/" + owner.Name)
	var out []*v1.Pod
	for i := range n {
		p := &v1.Pod{ObjectMeta: *t.ObjectMeta.DeepCopy(), Spec: *t.Spec.DeepCopy()}
		p.Name, p.Namespace = fmt.Sprintf("%s-%d", owner.Name, i), ns
		p.UID = types.UID(fmt.Sprintf("%s/%d", uid, i))
		ctrl := true
		p.OwnerReferences = []metav1.OwnerReference{{Kind: kind, Name: owner.Name, UID: uid, Controller: &ctrl}}
		out = append(out, withDefaults(p))
	}
	return out
}

// withDefaults applies the API server's pod defaults (requests from limits, ...), so
// the pods weigh what they would in a cluster.
func withDefaults(p *v1.Pod) *v1.Pod {
	if p.Namespace == "" {
		p.Namespace = "default"
	}
	if p.UID == "" {
		p.UID = types.UID("Pod/" + p.Namespace + "/" + p.Name)
	}
	for _, info := range resources.All() {
		if info.Group == "" && info.Resource == "pods" {
			info.Strategy.Default(p)
			break
		}
	}
	return p
}
