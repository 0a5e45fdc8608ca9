package main

import (
	"context"
	"fmt"
	"os"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
)

// runWhoami asks the API server who this pod is, the way any in-cluster client
// authenticates: client-go's in-cluster config reads the mounted service account
// token and CA and finds the API server through KUBERNETES_SERVICE_HOST/PORT.
//
// It uses client-go's REST client with a scheme of the one group it needs rather
// than the generated typed client, whose scheme registers every API group and
// would triple the size of the toolbox binary.
func runWhoami(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("whoami takes no arguments")
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := authenticationv1.AddToScheme(scheme); err != nil {
		return err
	}
	cfg.GroupVersion = &authenticationv1.SchemeGroupVersion
	cfg.APIPath = "/apis"
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	client, err := rest.RESTClientFor(cfg)
	if err != nil {
		return err
	}
	review := &authenticationv1.SelfSubjectReview{}
	err = client.Post().Resource("selfsubjectreviews").Body(review).Do(ctx).Into(review)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(os.Stdout, review.Status.UserInfo.Username)
	return err
}
