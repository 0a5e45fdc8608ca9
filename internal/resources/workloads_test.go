package resources

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// templateDefaults is the pod template every workload below gets back, as a real
// cluster prints it.
const templateDefaults = `
    metadata: {labels: {app: web}}
    spec:
      containers:
      - image: nginx
        imagePullPolicy: Always
        name: nginx
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
`

const minimalTemplate = `
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, image: nginx}]}
`

func TestWorkloadDefaults(t *testing.T) {
	tests := []struct {
		name     string
		strategy Strategy
		in, want runtime.Object
	}{
		{"deployment", deploymentStrategy{},
			mustYAML[appsv1.Deployment](t, "metadata: {name: web, namespace: default}\nspec:"+minimalTemplate),
			mustYAML[appsv1.Deployment](t, `
metadata: {name: web, namespace: default}
spec:
  progressDeadlineSeconds: 600
  replicas: 1
  revisionHistoryLimit: 10
  selector: {matchLabels: {app: web}}
  strategy:
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}
    type: RollingUpdate
  template:`+templateDefaults)},
		{"replicaset", replicaSetStrategy{},
			mustYAML[appsv1.ReplicaSet](t, "metadata: {name: web, namespace: default}\nspec:"+minimalTemplate),
			mustYAML[appsv1.ReplicaSet](t, `
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:`+templateDefaults)},
		{"statefulset", statefulSetStrategy{},
			mustYAML[appsv1.StatefulSet](t, `
metadata: {name: web, namespace: default}
spec:
  serviceName: web
  volumeClaimTemplates:
  - metadata: {name: www}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}`+minimalTemplate),
			mustYAML[appsv1.StatefulSet](t, `
metadata: {name: web, namespace: default}
spec:
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Retain, whenScaled: Retain}
  podManagementPolicy: OrderedReady
  replicas: 1
  revisionHistoryLimit: 10
  selector: {matchLabels: {app: web}}
  serviceName: web
  updateStrategy:
    rollingUpdate: {partition: 0, maxUnavailable: 1}
    type: RollingUpdate
  volumeClaimTemplates:
  - metadata: {name: www}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
      volumeMode: Filesystem
    status: {phase: Pending}
  template:`+templateDefaults)},
		{"daemonset", daemonSetStrategy{},
			mustYAML[appsv1.DaemonSet](t, "metadata: {name: web, namespace: default}\nspec:"+minimalTemplate),
			mustYAML[appsv1.DaemonSet](t, `
metadata: {name: web, namespace: default}
spec:
  revisionHistoryLimit: 10
  selector: {matchLabels: {app: web}}
  updateStrategy:
    rollingUpdate: {maxSurge: 0, maxUnavailable: 1}
    type: RollingUpdate
  template:`+templateDefaults)},
		{"replicationcontroller", rcStrategy{},
			mustYAML[corev1.ReplicationController](t, `
metadata: {name: web, namespace: default}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, image: nginx}]}`),
			mustYAML[corev1.ReplicationController](t, `
metadata: {name: web, namespace: default, labels: {app: web}}
spec:
  replicas: 1
  selector: {app: web}
  template:`+templateDefaults)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if errs := create(tt.strategy, tt.in); len(errs) > 0 {
				t.Fatalf("valid object rejected: %v", errs)
			}
			if d := cmp.Diff(tt.want, tt.in); d != "" {
				t.Errorf("defaults (-want +got):\n%s", d)
			}
		})
	}
}

func TestWorkloadValidation(t *testing.T) {
	deploy := func(mutate func(*appsv1.Deployment)) runtime.Object {
		d := mustYAML[appsv1.Deployment](t, "metadata: {name: web, namespace: default}\nspec:"+minimalTemplate)
		mutate(d)
		return d
	}
	sts := func(mutate func(*appsv1.StatefulSet)) runtime.Object {
		s := mustYAML[appsv1.StatefulSet](t, "metadata: {name: web, namespace: default}\nspec:"+minimalTemplate)
		mutate(s)
		return s
	}
	ds := func(mutate func(*appsv1.DaemonSet)) runtime.Object {
		s := mustYAML[appsv1.DaemonSet](t, "metadata: {name: web, namespace: default}\nspec:"+minimalTemplate)
		mutate(s)
		return s
	}
	tests := []struct {
		name     string
		strategy Strategy
		obj      runtime.Object
		want     []string
	}{
		{"deployment without selector", deploymentStrategy{}, deploy(func(d *appsv1.Deployment) { d.Spec.Selector = nil }),
			[]string{"spec.selector: FieldValueRequired"}},
		{"selector does not match", deploymentStrategy{}, deploy(func(d *appsv1.Deployment) { d.Spec.Selector.MatchLabels["app"] = "db" }),
			[]string{"spec.template.metadata.labels: FieldValueInvalid"}},
		{"negative replicas", deploymentStrategy{}, deploy(func(d *appsv1.Deployment) { d.Spec.Replicas = podPtr(int32(-1)) }),
			[]string{"spec.replicas: FieldValueInvalid"}},
		{"no image", deploymentStrategy{}, deploy(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" }),
			[]string{"spec.template.spec.containers[0].image: FieldValueRequired"}},
		{"surge and unavailable both 0", deploymentStrategy{}, deploy(func(d *appsv1.Deployment) {
			z := intstr.FromInt32(0)
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &z, MaxUnavailable: podPtr(intstr.FromString("0%"))}
		}), []string{"spec.strategy.rollingUpdate.maxUnavailable: FieldValueInvalid"}},
		{"unknown strategy", deploymentStrategy{}, deploy(func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "BlueGreen" }),
			[]string{"spec.strategy.type: FieldValueNotSupported"}},
		{"recreate with rollingUpdate", deploymentStrategy{}, deploy(func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: "Recreate", RollingUpdate: &appsv1.RollingUpdateDeployment{}}
		}), []string{"spec.strategy.rollingUpdate: FieldValueForbidden"}},
		{"template restart policy", deploymentStrategy{}, deploy(func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = "Never" }),
			[]string{"spec.template.spec.restartPolicy: FieldValueNotSupported"}},
		{"statefulset name is a DNS label", statefulSetStrategy{}, sts(func(s *appsv1.StatefulSet) { s.Name = "web.example" }),
			[]string{"metadata.name: FieldValueInvalid"}},
		{"statefulset pod management", statefulSetStrategy{}, sts(func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "Random" }),
			[]string{"spec.podManagementPolicy: FieldValueInvalid"}},
		{"statefulset mount of unknown claim", statefulSetStrategy{}, sts(func(s *appsv1.StatefulSet) {
			s.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/d"}}
		}), []string{"spec.template.spec.containers[0].volumeMounts[0].name: FieldValueNotFound"}},
		{"daemonset surge and unavailable", daemonSetStrategy{}, ds(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxSurge: podPtr(intstr.FromInt32(1)), MaxUnavailable: podPtr(intstr.FromInt32(1))}
		}), []string{"spec.updateStrategy.rollingUpdate.maxSurge: FieldValueInvalid"}},
		{"daemonset empty selector", daemonSetStrategy{}, ds(func(d *appsv1.DaemonSet) { d.Spec.Selector.MatchLabels = nil }),
			[]string{"spec.selector: FieldValueInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := create(tt.strategy, tt.obj)
			if d := cmp.Diff(tt.want, errKeys(errs)); d != "" {
				t.Errorf("errors (-want +got):\n%s\nall: %v", d, errs)
			}
		})
	}
}

func TestSelectorMismatchMessage(t *testing.T) {
	d := mustYAML[appsv1.Deployment](t, "metadata: {name: web, namespace: default}\nspec:"+minimalTemplate)
	d.Spec.Selector.MatchLabels["app"] = "db"
	errs := create(deploymentStrategy{}, d)
	// apimachinery renders the bad value as JSON, as a 1.37 API server does (older
	// releases printed map[string]string{"app":"web"}).
	want := "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"
	if len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("got %v\nwant %s", errs, want)
	}
}

func TestWorkloadUpdate(t *testing.T) {
	type obj = runtime.Object
	tests := []struct {
		name     string
		strategy Strategy
		old      obj
		mutate   func(obj)
		want     []string
	}{
		{"deployment template may change", deploymentStrategy{},
			mustYAML[appsv1.Deployment](t, "metadata: {name: web, namespace: default}\nspec:"+minimalTemplate),
			func(o obj) { o.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Image = "nginx:2" }, []string{}},
		{"deployment selector is immutable", deploymentStrategy{},
			mustYAML[appsv1.Deployment](t, "metadata: {name: web, namespace: default}\nspec:"+minimalTemplate),
			func(o obj) {
				d := o.(*appsv1.Deployment)
				d.Spec.Selector.MatchLabels["tier"] = "fe"
				d.Spec.Template.Labels["tier"] = "fe"
			}, []string{"spec.selector: FieldValueInvalid"}},
		{"replicaset selector is immutable", replicaSetStrategy{},
			mustYAML[appsv1.ReplicaSet](t, "metadata: {name: web, namespace: default}\nspec:"+minimalTemplate),
			func(o obj) {
				o.(*appsv1.ReplicaSet).Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Exists"}}
			},
			[]string{"spec.selector: FieldValueInvalid"}},
		{"statefulset replicas and template may change", statefulSetStrategy{},
			mustYAML[appsv1.StatefulSet](t, "metadata: {name: web, namespace: default}\nspec:"+minimalTemplate),
			func(o obj) {
				s := o.(*appsv1.StatefulSet)
				s.Spec.Replicas = podPtr(int32(5))
				s.Spec.Template.Spec.Containers[0].Image = "nginx:2"
			}, []string{}},
		{"statefulset serviceName is fixed", statefulSetStrategy{},
			mustYAML[appsv1.StatefulSet](t, "metadata: {name: web, namespace: default}\nspec:"+minimalTemplate),
			func(o obj) { o.(*appsv1.StatefulSet).Spec.ServiceName = "other" }, []string{"spec: FieldValueForbidden"}},
		{"daemonset selector is immutable", daemonSetStrategy{},
			mustYAML[appsv1.DaemonSet](t, "metadata: {name: web, namespace: default}\nspec:"+minimalTemplate),
			func(o obj) {
				o.(*appsv1.DaemonSet).Spec.Selector.MatchLabels = map[string]string{"app": "web", "x": "y"}
			},
			[]string{"spec.selector: FieldValueInvalid", "spec.template.metadata.labels: FieldValueInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if errs := create(tt.strategy, tt.old); len(errs) > 0 {
				t.Fatal(errs)
			}
			metaOf(tt.old).ResourceVersion = "7" // set by the store
			obj := tt.old.DeepCopyObject()
			tt.mutate(obj)
			tt.strategy.Default(obj)
			tt.strategy.PrepareForUpdate(obj, tt.old, "")
			errs := tt.strategy.Validate(obj, tt.old)
			if d := cmp.Diff(tt.want, errKeys(errs)); d != "" {
				t.Errorf("errors (-want +got):\n%s\nall: %v", d, errs)
			}
		})
	}
}

// Manifests from the seed documents, transcribed as written (the Deployments there
// omit selectors and are rejected by Kubernetes too; the one below adds it).
var seedManifests = []struct {
	name     string
	strategy Strategy
	obj      func(t *testing.T, doc string) runtime.Object
	doc      string
}{
	{"mongodb statefulset", statefulSetStrategy{}, yamlObj[appsv1.StatefulSet], `
metadata: {name: mongodb, namespace: default}
spec:
  serviceName: "mongodb"
  replicas: 3
  selector:
    matchLabels:
      app: mongodb
  template:
    metadata:
      labels:
        app: mongodb
    spec:
      terminationGracePeriodSeconds: 10
      containers:
        - name: mongodb-container
          image: mongo:latest
          ports:
            - containerPort: 27017
          volumeMounts:
            - name: mongo-data
              mountPath: /data/db
  volumeClaimTemplates:
    - metadata:
        name: mongo-data
      spec:
        accessModes: ["ReadWriteOnce"]
        resources:
          requests:
            storage: 10Gi
`},
	{"mysql statefulset", statefulSetStrategy{}, yamlObj[appsv1.StatefulSet], `
metadata: {name: mysql, namespace: default}
spec:
  serviceName: mysql
  replicas: 1
  selector:
    matchLabels:
      app: mysql
  template:
    metadata:
      labels:
        app: mysql
    spec:
      volumes:
        - name: mysql-persistent-storage
          persistentVolumeClaim:
            claimName: mysql-pv-claim
      containers:
        - name: mysql
          image: mysql:latest
          volumeMounts:
            - name: mysql-persistent-storage
              mountPath: /var/lib/mysql
`},
	{"example replicaset", replicaSetStrategy{}, yamlObj[appsv1.ReplicaSet], `
metadata: {name: example-replicaset, namespace: default}
spec:
  replicas: 3
  selector:
    matchLabels:
      app: example
  template:
    metadata:
      labels:
        app: example
    spec:
      containers:
        - name: example-container
          image: example-image
`},
	{"nginx deployment with rolling update", deploymentStrategy{}, yamlObj[appsv1.Deployment], `
metadata: {name: nginx-deployment, namespace: default}
spec:
  replicas: 5
  selector: {matchLabels: {app: nginx}}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata: {labels: {app: nginx}}
    spec:
      containers:
      - name: nginx
        image: nginx
        resources:
          requests: {memory: "64Mi", cpu: "250m"}
          limits: {memory: "128Mi", cpu: "500m"}
`},
	{"flask pod", podStrategy{}, yamlObj[corev1.Pod], `
metadata:
  name: flask-pod
  namespace: default
  labels:
    app: flask-helloworld
spec:
  containers:
  - name: flask
    image: digitalocean/flask-helloworld:latest
    ports:
    - containerPort: 5000
`},
	{"pod with toleration", podStrategy{}, yamlObj[corev1.Pod], `
metadata: {name: nginx, namespace: default, labels: {env: test}}
spec:
  containers:
  - name: nginx
    image: nginx
    imagePullPolicy: IfNotPresent
  tolerations:
  - key: "example-key"
    operator: "Exists"
    effect: "NoSchedule"
`},
}

func yamlObj[T any](t *testing.T, doc string) runtime.Object {
	return any(mustYAML[T](t, doc)).(runtime.Object)
}

func TestSeedManifestsAreValid(t *testing.T) {
	for _, tt := range seedManifests {
		t.Run(tt.name, func(t *testing.T) {
			if errs := create(tt.strategy, tt.obj(t, tt.doc)); len(errs) > 0 {
				t.Errorf("rejected: %v", errs)
			}
		})
	}
}

// The seed's blue-green Deployments have no selector: apps/v1 rejects them, and so must we.
func TestSeedDeploymentWithoutSelector(t *testing.T) {
	d := mustYAML[appsv1.Deployment](t, `
metadata: {name: app-blue, namespace: default}
spec:
  replicas: 3
  template:
    metadata: {labels: {app: myapp, version: blue}}
    spec: {containers: [{name: app, image: "myapp:v1.0"}]}`)
	errs := create(deploymentStrategy{}, d)
	if got := errKeys(errs); !cmp.Equal(got, []string{"spec.selector: FieldValueRequired"}) || !strings.Contains(errs.ToAggregate().Error(), "spec.selector: Required value") {
		t.Errorf("got %v", errs)
	}
}
