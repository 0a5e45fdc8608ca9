package resources

import (
	"fmt"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/component-helpers/node/util/sysctl"
)

// Sysctl names as the kernel has them: dot- (or slash-) separated segments of
// lower-case letters, digits, '-' and '_', each starting and ending alphanumerically.
const (
	sysctlSegment   = `[a-z0-9]([-_a-z0-9]*[a-z0-9])?`
	sysctlNameFmt   = `(` + sysctlSegment + `[\./])*` + sysctlSegment
	sysctlMaxLength = 253
)

var sysctlNameRE = regexp.MustCompile(`^` + sysctlNameFmt + `$`)

// validatePodSysctls checks spec.securityContext.sysctls: well-formed, unique names,
// and none in a namespace the pod shares with the node (a host-network pod may not
// set net.*, a host-IPC pod not kernel.shm*/kernel.msg*/kernel.sem/fs.mqueue.*).
// Whether a sysctl is safe is the kubelet's decision, not the API's.
func validatePodSysctls(s *corev1.PodSpec, p *field.Path) field.ErrorList {
	if s.SecurityContext == nil {
		return nil
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, sc := range s.SecurityContext.Sysctls {
		np := p.Index(i).Child("name")
		switch {
		case sc.Name == "":
			errs = append(errs, field.Required(np, ""))
		case len(sc.Name) > sysctlMaxLength || !sysctlNameRE.MatchString(sc.Name):
			errs = append(errs, field.Invalid(np, sc.Name,
				fmt.Sprintf("must have at most %d characters and match regex %s", sysctlMaxLength, sysctlNameFmt)))
		case seen[sysctl.NormalizeName(sc.Name)]:
			errs = append(errs, field.Duplicate(np, sc.Name))
		default:
			switch ns, _, _ := sysctl.GetNamespace(sysctl.NormalizeName(sc.Name)); {
			case ns == sysctl.NetNamespace && s.HostNetwork:
				errs = append(errs, field.Invalid(np, sc.Name, "may not be specified when 'hostNetwork' is true"))
			case ns == sysctl.IPCNamespace && s.HostIPC:
				errs = append(errs, field.Invalid(np, sc.Name, "may not be specified when 'hostIPC' is true"))
			}
		}
		seen[sysctl.NormalizeName(sc.Name)] = true
	}
	return errs
}
