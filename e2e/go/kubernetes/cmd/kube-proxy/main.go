// Command kube-proxy is the upstream Service proxy, built from its Go module for the e2e harness:
// on a real node it programs the iptables rules that make ClusterIP Services reachable from Pods.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-proxy/app"
)

func main() { os.Exit(cli.Run(app.NewProxyCommand())) }
