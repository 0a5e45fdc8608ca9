package resources

import (
	"encoding/json"
	"maps"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ConfigMaps and Secrets share the 1 MiB limit: both are stored whole in etcd and
// sent whole to every kubelet that mounts them.

const configImmutableMsg = "field is immutable when `immutable` is set"

func (configMapStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	total := 0
	dataPath, binPath := field.NewPath("data"), field.NewPath("binaryData")
	for k, v := range cm.Data {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(dataPath.Key(k), k, msg))
		}
		if _, dup := cm.BinaryData[k]; dup {
			errs = append(errs, field.Invalid(dataPath.Key(k), k, "duplicate of key present in binaryData"))
		}
		total += len(v)
	}
	for k, v := range cm.BinaryData {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(binPath.Key(k), k, msg))
		}
		total += len(v)
	}
	if total > corev1.MaxSecretSize {
		// The empty path means the whole object is too large.
		errs = append(errs, field.TooLong(field.NewPath(""), "", corev1.MaxSecretSize))
	}
	if oldCM, ok := old.(*corev1.ConfigMap); ok && isImmutable(oldCM.Immutable) {
		if !isImmutable(cm.Immutable) {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), configImmutableMsg))
		}
		if !configSameStrings(cm.Data, oldCM.Data) {
			errs = append(errs, field.Forbidden(dataPath, configImmutableMsg))
		}
		if !configSameBytes(cm.BinaryData, oldCM.BinaryData) {
			errs = append(errs, field.Forbidden(binPath, configImmutableMsg))
		}
	}
	return errs
}

func isImmutable(b *bool) bool { return b != nil && *b }

// configSameStrings and configSameBytes treat nil and empty maps alike: a client
// that sends "data: {}" has not changed an object stored without data.
func configSameStrings(a, b map[string]string) bool {
	return (len(a) == 0 && len(b) == 0) || maps.Equal(a, b)
}

func configSameBytes(a, b map[string][]byte) bool {
	return (len(a) == 0 && len(b) == 0) || reflect.DeepEqual(a, b)
}

func (secretStrategy) Default(obj runtime.Object) {
	if s, ok := obj.(*corev1.Secret); ok && s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
}

// PrepareForCreate and PrepareForUpdate fold stringData into data, as the API
// server does before storing: stringData is write-only and never persisted.
func (secretStrategy) PrepareForCreate(obj runtime.Object) {
	if s, ok := obj.(*corev1.Secret); ok {
		secretFoldStringData(s)
	}
}

func (secretStrategy) PrepareForUpdate(obj, _ runtime.Object, _ string) {
	if s, ok := obj.(*corev1.Secret); ok {
		secretFoldStringData(s)
	}
}

func secretFoldStringData(s *corev1.Secret) {
	if len(s.StringData) == 0 {
		s.StringData = nil
		return
	}
	if s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

func (secretStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	dataPath := field.NewPath("data")
	total := 0
	for k, v := range s.Data {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(dataPath.Key(k), k, msg))
		}
		total += len(v)
	}
	if total > corev1.MaxSecretSize {
		errs = append(errs, field.TooLong(dataPath, "", corev1.MaxSecretSize))
	}
	errs = append(errs, validateSecretType(s, dataPath)...)
	if oldS, ok := old.(*corev1.Secret); ok {
		errs = append(errs, apivalidation.ValidateImmutableField(s.Type, oldS.Type, field.NewPath("type"))...)
		if isImmutable(oldS.Immutable) {
			if !isImmutable(s.Immutable) {
				errs = append(errs, field.Forbidden(field.NewPath("immutable"), configImmutableMsg))
			}
			if !configSameBytes(s.Data, oldS.Data) {
				errs = append(errs, field.Forbidden(dataPath, configImmutableMsg))
			}
		}
	}
	return errs
}

// validateSecretType checks the keys each well-known type promises its consumers.
func validateSecretType(s *corev1.Secret, dataPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	requireJSON := func(key string) {
		b, ok := s.Data[key]
		if !ok {
			errs = append(errs, field.Required(dataPath.Key(key), ""))
			return
		}
		if err := json.Unmarshal(b, &map[string]any{}); err != nil {
			// Never echo secret contents in an error.
			errs = append(errs, field.Invalid(dataPath.Key(key), "<secret contents redacted>", err.Error()))
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		requireJSON(corev1.DockerConfigKey)
	case corev1.SecretTypeDockerConfigJson:
		requireJSON(corev1.DockerConfigJsonKey)
	case corev1.SecretTypeBasicAuth:
		_, u := s.Data[corev1.BasicAuthUsernameKey]
		_, p := s.Data[corev1.BasicAuthPasswordKey]
		if !u && !p {
			errs = append(errs, field.Required(dataPath.Key(corev1.BasicAuthUsernameKey), ""),
				field.Required(dataPath.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeSSHAuth:
		if len(s.Data[corev1.SSHAuthPrivateKey]) == 0 {
			errs = append(errs, field.Required(dataPath.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeTLS:
		if _, ok := s.Data[corev1.TLSCertKey]; !ok {
			errs = append(errs, field.Required(dataPath.Key(corev1.TLSCertKey), ""))
		}
		if _, ok := s.Data[corev1.TLSPrivateKeyKey]; !ok {
			errs = append(errs, field.Required(dataPath.Key(corev1.TLSPrivateKeyKey), ""))
		}
	}
	return errs
}

func (secretStrategy) Fields(obj runtime.Object) fields.Set {
	set := metaFields(obj)
	if s, ok := obj.(*corev1.Secret); ok {
		set["type"] = string(s.Type)
	}
	return set
}

func (serviceAccountStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	sa, ok := obj.(*corev1.ServiceAccount)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	for i, ref := range sa.ImagePullSecrets {
		if ref.Name == "" {
			errs = append(errs, field.Required(field.NewPath("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	return errs
}
