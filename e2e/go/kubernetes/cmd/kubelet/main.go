// Command kubelet is the upstream node agent, built from its Go module for the e2e harness:
// a real node runs it beside containerd so that Pods of placed workloads actually run.
package main

import (
	"context"
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kubelet/app"
)

func main() { os.Exit(cli.Run(app.NewKubeletCommand(context.Background()))) }
