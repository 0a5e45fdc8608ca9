// Command etcd is etcd's own server command, built from the etcd module skiff already
// uses, for the conformance suite's etcd image (the sample API server of the
// aggregator spec runs it beside itself).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
