package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"

	"skiff/internal/auth"
)

const tokenUsage = `usage: skiff token create [--ttl 24h] [--description TEXT]
       skiff token list
       skiff token delete TOKEN-ID|TOKEN`

// runToken manages join tokens, stored as Kubernetes bootstrap-token Secrets in
// kube-system, as kubeadm's tokens are: create prints a new token, list shows ids and
// expiry (never the secrets), delete revokes.
func runToken(ctx context.Context, w io.Writer, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", tokenUsage)
	}
	fs := flag.NewFlagSet("token "+args[0], flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", defaultKubeconfig(), "kubeconfig of the cluster (an administrator's)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid (0: never expires)")
	desc := fs.String("description", "", "what the token is for")
	_ = fs.Parse(args[1:])
	rc, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	secrets := client.CoreV1().Secrets(metav1.NamespaceSystem)
	switch args[0] {
	case "create":
		return createToken(ctx, w, client, *ttl, *desc)
	case "list":
		list, err := secrets.List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("type", string(bootstrapapi.SecretTypeBootstrapToken)).String()})
		if err != nil {
			return err
		}
		printTokens(w, list.Items)
		return nil
	case "delete":
		if fs.NArg() != 1 {
			return fmt.Errorf("%s", tokenUsage)
		}
		id := fs.Arg(0)
		if bootstraputil.IsValidBootstrapToken(id) {
			id = id[:6]
		}
		if !bootstraputil.IsValidBootstrapTokenID(id) {
			return fmt.Errorf("%q is not a token id (6 characters [a-z0-9]) or token", id)
		}
		if err := secrets.Delete(ctx, bootstraputil.BootstrapTokenSecretName(id), metav1.DeleteOptions{}); err != nil {
			return err
		}
		fmt.Fprintf(w, "token %s deleted\n", id)
		return nil
	}
	return fmt.Errorf("%s", tokenUsage)
}

func createToken(ctx context.Context, w io.Writer, client kubernetes.Interface, ttl time.Duration, desc string) error {
	token, err := bootstraputil.GenerateBootstrapToken()
	if err != nil {
		return err
	}
	id, secret := token[:6], token[7:]
	data := map[string][]byte{
		bootstrapapi.BootstrapTokenIDKey:               []byte(id),
		bootstrapapi.BootstrapTokenSecretKey:           []byte(secret),
		bootstrapapi.BootstrapTokenUsageAuthentication: []byte("true"),
	}
	if ttl > 0 {
		data[bootstrapapi.BootstrapTokenExpirationKey] = []byte(time.Now().Add(ttl).UTC().Format(time.RFC3339))
	}
	if desc != "" {
		data[bootstrapapi.BootstrapTokenDescriptionKey] = []byte(desc)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: bootstraputil.BootstrapTokenSecretName(id), Namespace: metav1.NamespaceSystem},
		Type: bootstrapapi.SecretTypeBootstrapToken, Data: data}
	if _, err := client.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return err
	}
	fmt.Fprintln(w, token)
	return nil
}

func printTokens(w io.Writer, items []corev1.Secret) {
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "TOKEN-ID\tEXPIRES\tUSAGES\tDESCRIPTION")
	for _, s := range items {
		expires := "<never>"
		if e, ok := s.Data[bootstrapapi.BootstrapTokenExpirationKey]; ok {
			expires = string(e)
			if auth.TokenExpired(&s, time.Now()) {
				expires += " (expired)"
			}
		}
		usages := "-"
		if string(s.Data[bootstrapapi.BootstrapTokenUsageAuthentication]) == "true" {
			usages = "authentication"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Data[bootstrapapi.BootstrapTokenIDKey], expires, usages, s.Data[bootstrapapi.BootstrapTokenDescriptionKey])
	}
	tw.Flush()
}
