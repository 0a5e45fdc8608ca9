package pki

import (
	"errors"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// clusterName names the cluster and the context in every kubeconfig skiff
// writes, so merged kubeconfigs show where an entry came from.
const clusterName = "skiff"

// Kubeconfig renders a kubeconfig with one cluster "skiff", one user and one
// context "skiff", set current. server is a URL such as https://127.0.0.1:6443.
// Exactly one credential is set: certPEM with keyPEM, or token. Everything is
// embedded inline so the file can be copied to another machine on its own.
func Kubeconfig(server string, caPEM []byte, user string, certPEM, keyPEM []byte, token string) ([]byte, error) {
	if server == "" {
		return nil, errors.New("kubeconfig needs a server URL")
	}
	if len(caPEM) == 0 {
		return nil, errors.New("kubeconfig needs the CA certificate")
	}
	hasCert := len(certPEM) > 0 || len(keyPEM) > 0
	switch {
	case hasCert && (len(certPEM) == 0 || len(keyPEM) == 0):
		return nil, errors.New("kubeconfig client certificate and key must be given together")
	case hasCert && token != "":
		return nil, errors.New("kubeconfig takes a client certificate or a token, not both")
	case !hasCert && token == "":
		return nil, errors.New("kubeconfig needs a client certificate or a token")
	}
	if user == "" {
		// The user entry's name is only a label inside the file; the identity
		// comes from the certificate or token.
		user = clusterName
	}

	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{
		Server:                   server,
		CertificateAuthorityData: caPEM,
	}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{
		ClientCertificateData: certPEM,
		ClientKeyData:         keyPEM,
		Token:                 token,
	}
	cfg.Contexts[clusterName] = &clientcmdapi.Context{
		Cluster:  clusterName,
		AuthInfo: user,
	}
	cfg.CurrentContext = clusterName
	return clientcmd.Write(*cfg)
}
