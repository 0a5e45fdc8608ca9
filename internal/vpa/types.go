// Package vpa is the Vertical Pod Autoscaler's core: the autoscaling.k8s.io/v1 kinds
// (served as CRDs the API server installs at start), the recommender's decaying
// histograms and estimators as pure functions, and the rules that turn a
// recommendation into a pod's requests. The controller that runs it lives in
// internal/controllers/verticalpodautoscaler; the admission step in the API server.
package vpa

import (
	"encoding/json"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group and version of the VPA API, as the upstream VPA serves it.
var (
	GroupVersion   = schema.GroupVersion{Group: "autoscaling.k8s.io", Version: "v1"}
	Resource       = GroupVersion.WithResource("verticalpodautoscalers")
	CheckpointsGVR = GroupVersion.WithResource("verticalpodautoscalercheckpoints")
)

// UpdateMode says what the VPA does with its recommendation.
type UpdateMode string

const (
	UpdateModeOff               UpdateMode = "Off"
	UpdateModeInitial           UpdateMode = "Initial"
	UpdateModeRecreate          UpdateMode = "Recreate"
	UpdateModeAuto              UpdateMode = "Auto"
	UpdateModeInPlaceOrRecreate UpdateMode = "InPlaceOrRecreate"
)

// The fields of upstream's types that skiff acts on; the CRD keeps everything else a
// client sends (its schema preserves unknown fields in the places upstream has more).

type VerticalPodAutoscaler struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              Spec   `json:"spec"`
	Status            Status `json:"status,omitempty"`
}

type Spec struct {
	TargetRef      *autoscalingv1.CrossVersionObjectReference `json:"targetRef,omitempty"`
	UpdatePolicy   *UpdatePolicy                              `json:"updatePolicy,omitempty"`
	ResourcePolicy *ResourcePolicy                            `json:"resourcePolicy,omitempty"`
}

type UpdatePolicy struct {
	UpdateMode  *UpdateMode `json:"updateMode,omitempty"`
	MinReplicas *int32      `json:"minReplicas,omitempty"`
}

type ResourcePolicy struct {
	ContainerPolicies []ContainerPolicy `json:"containerPolicies,omitempty"`
}

// ContainerPolicy: containerName "*" applies to containers no other policy names.
type ContainerPolicy struct {
	ContainerName       string                 `json:"containerName,omitempty"`
	Mode                *string                `json:"mode,omitempty"` // Auto or Off
	MinAllowed          corev1.ResourceList    `json:"minAllowed,omitempty"`
	MaxAllowed          corev1.ResourceList    `json:"maxAllowed,omitempty"`
	ControlledResources *[]corev1.ResourceName `json:"controlledResources,omitempty"`
	ControlledValues    *string                `json:"controlledValues,omitempty"`
}

type Status struct {
	Recommendation *Recommendation `json:"recommendation,omitempty"`
	Conditions     []Condition     `json:"conditions,omitempty"`
}

type Recommendation struct {
	ContainerRecommendations []ContainerRecommendation `json:"containerRecommendations,omitempty"`
}

type ContainerRecommendation struct {
	ContainerName  string              `json:"containerName,omitempty"`
	Target         corev1.ResourceList `json:"target"`
	LowerBound     corev1.ResourceList `json:"lowerBound,omitempty"`
	UpperBound     corev1.ResourceList `json:"upperBound,omitempty"`
	UncappedTarget corev1.ResourceList `json:"uncappedTarget,omitempty"`
}

type Condition struct {
	Type               string                 `json:"type"`
	Status             corev1.ConditionStatus `json:"status"`
	LastTransitionTime metav1.Time            `json:"lastTransitionTime,omitempty"`
	Reason             string                 `json:"reason,omitempty"`
	Message            string                 `json:"message,omitempty"`
}

// Condition types upstream reports.
const (
	RecommendationProvided = "RecommendationProvided"
	ConfigUnsupported      = "ConfigUnsupported"
	LowConfidence          = "LowConfidence"
)

// Checkpoint keeps one container's histograms so a restarted recommender resumes
// with its history.
type Checkpoint struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              CheckpointSpec   `json:"spec"`
	Status            CheckpointStatus `json:"status,omitempty"`
}

type CheckpointSpec struct {
	VPAObjectName string `json:"vpaObjectName,omitempty"`
	ContainerName string `json:"containerName,omitempty"`
}

type CheckpointStatus struct {
	LastUpdateTime    metav1.Time         `json:"lastUpdateTime,omitempty"`
	Version           string              `json:"version,omitempty"`
	CPUHistogram      HistogramCheckpoint `json:"cpuHistogram,omitempty"`
	MemoryHistogram   HistogramCheckpoint `json:"memoryHistogram,omitempty"`
	FirstSampleStart  metav1.Time         `json:"firstSampleStart,omitempty"`
	LastSampleStart   metav1.Time         `json:"lastSampleStart,omitempty"`
	TotalSamplesCount int                 `json:"totalSamplesCount,omitempty"`
}

// HistogramCheckpoint is a histogram's buckets scaled so that the heaviest is
// MaxCheckpointWeight, as upstream stores them.
type HistogramCheckpoint struct {
	ReferenceTimestamp metav1.Time    `json:"referenceTimestamp,omitempty"`
	BucketWeights      map[int]uint32 `json:"bucketWeights,omitempty"`
	TotalWeight        float64        `json:"totalWeight,omitempty"`
}

// Mode is the VPA's update mode; Auto when unset, as upstream.
func (v *VerticalPodAutoscaler) Mode() UpdateMode {
	if v.Spec.UpdatePolicy == nil || v.Spec.UpdatePolicy.UpdateMode == nil {
		return UpdateModeAuto
	}
	return *v.Spec.UpdatePolicy.UpdateMode
}

// FromUnstructured reads a VPA or checkpoint from the form the API serves CRs in.
// It goes through JSON, which (unlike the unstructured converter) knows the integer
// keys of a checkpoint's bucket weights.
func FromUnstructured[T any](u *unstructured.Unstructured) (*T, error) {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return nil, err
	}
	out := new(T)
	return out, json.Unmarshal(b, out)
}

// ToUnstructured is the reverse, for writes through the dynamic client.
func ToUnstructured(obj any) (*unstructured.Unstructured, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	return u, json.Unmarshal(b, &u.Object)
}
