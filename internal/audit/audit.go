// Package audit sets up the API server's audit log from k8s.io/apiserver's audit
// packages: an audit.k8s.io/v1 Policy file decides the level of each request (None,
// Metadata, Request, RequestResponse) and the stages logged, and the log backend
// writes the events as JSON lines to a file that lumberjack rotates.
package audit

import (
	"fmt"
	"io"
	"net/http"
	"os"

	"gopkg.in/natefinch/lumberjack.v2"
	"k8s.io/apimachinery/pkg/util/sets"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/endpoints/request"
	auditlog "k8s.io/apiserver/plugin/pkg/audit/log"
)

// Config is what `skiff server --audit-*` says, as kube-apiserver's flags do.
type Config struct {
	PolicyFile string // --audit-policy-file
	LogPath    string // --audit-log-path; "-" is standard output
	MaxAge     int    // --audit-log-maxage: days to keep rotated files (0: no limit)
	MaxBackups int    // --audit-log-maxbackup: rotated files to keep (0: no limit)
	MaxSize    int    // --audit-log-maxsize: megabytes before the file is rotated (0: 100)
}

// Auditor is an enabled audit log: the policy's evaluator and the log it writes to.
type Auditor struct {
	Policy audit.PolicyRuleEvaluator
	Sink   audit.Backend
	infos  *request.RequestInfoFactory
}

// New loads the policy and opens the log; with no policy file or no log path the
// audit log is off and New returns nil.
func New(cfg Config) (*Auditor, error) {
	if cfg.PolicyFile == "" || cfg.LogPath == "" {
		if cfg.PolicyFile != "" || cfg.LogPath != "" {
			return nil, fmt.Errorf("the audit log needs both --audit-policy-file and --audit-log-path")
		}
		return nil, nil
	}
	p, err := policy.LoadPolicyFromFile(cfg.PolicyFile)
	if err != nil {
		return nil, fmt.Errorf("--audit-policy-file: %w", err)
	}
	var out io.Writer = os.Stdout
	if cfg.LogPath != "-" {
		// Open it now, so that a path that cannot be written fails the start.
		f, err := os.OpenFile(cfg.LogPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--audit-log-path: %w", err)
		}
		f.Close()
		out = &lumberjack.Logger{Filename: cfg.LogPath, MaxAge: cfg.MaxAge, MaxBackups: cfg.MaxBackups, MaxSize: cfg.MaxSize}
	}
	return &Auditor{
		Policy: policy.NewPolicyRuleEvaluator(p),
		Sink:   auditlog.NewBackend(out, auditlog.FormatJson, auditv1.SchemeGroupVersion),
		infos:  &request.RequestInfoFactory{APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api")},
	}, nil
}

// RequestInfo describes r as the policy's rules see it (verb, group, resource,
// namespace, name).
func (a *Auditor) RequestInfo(r *http.Request) (*request.RequestInfo, error) {
	return a.infos.NewRequestInfo(r)
}
