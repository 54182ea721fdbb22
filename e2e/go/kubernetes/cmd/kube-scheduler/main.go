// Command kube-scheduler is the upstream scheduler, built from its Go module for the e2e harness:
// Pods of placed workloads are bound to the sites' nodes by the real scheduler.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() { os.Exit(cli.Run(app.NewSchedulerCommand())) }
