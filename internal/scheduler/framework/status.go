// Package framework holds the types the scheduler and its plugins share: the per-node
// view of the cluster (NodeInfo), the per-pod precomputation (PodInfo, CycleState), the
// plugin interfaces and the Status a plugin returns with its reasons.
package framework

import "strings"

// Code says what a plugin's verdict means for the pod.
type Code int

const (
	// Success: the node fits (a nil *Status also means success).
	Success Code = iota
	// Unschedulable: the node does not fit now, but evicting pods could change that.
	Unschedulable
	// UnschedulableAndUnresolvable: no eviction can make this node fit (labels, taints).
	UnschedulableAndUnresolvable
	// Error: the plugin failed; the pod is retried with backoff.
	Error
	// Skip: returned by PreFilter/PreScore when the plugin has nothing to check for
	// this pod, so its Filter/Score is not called at all.
	Skip
)

func (c Code) String() string {
	switch c {
	case Success:
		return "Success"
	case Unschedulable:
		return "Unschedulable"
	case UnschedulableAndUnresolvable:
		return "UnschedulableAndUnresolvable"
	case Error:
		return "Error"
	case Skip:
		return "Skip"
	}
	return "Unknown"
}

// Status is a plugin's verdict. Reasons are the user-facing phrases that end up in
// the FailedScheduling message, so every one a plugin finds is kept.
type Status struct {
	Code    Code
	Reasons []string
	Plugin  string
}

// NewStatus builds a status with the given reasons.
func NewStatus(code Code, reasons ...string) *Status {
	return &Status{Code: code, Reasons: reasons}
}

// IsSuccess reports whether s means "fits"; nil counts as success.
func (s *Status) IsSuccess() bool { return s == nil || s.Code == Success }

// IsSkip reports whether the plugin asked to be skipped for this pod.
func (s *Status) IsSkip() bool { return s != nil && s.Code == Skip }

// IsRejection reports whether the node was rejected (as opposed to an error).
func (s *Status) IsRejection() bool {
	return s != nil && (s.Code == Unschedulable || s.Code == UnschedulableAndUnresolvable)
}

// Message joins the reasons for logs and errors.
func (s *Status) Message() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.Reasons, ", ")
}

// WithPlugin records which plugin produced the status, for explanations.
func (s *Status) WithPlugin(name string) *Status {
	if s != nil {
		s.Plugin = name
	}
	return s
}
