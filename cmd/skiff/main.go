// Command skiff runs a Kubernetes-compatible cluster from one binary.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "usage: skiff server|agent|kubeconfig|image|version")
	os.Exit(2)
}
