// Command invokerctl declares, provisions and proves who may invoke Cloud Run
// services. Everything it does lives in pkg/invokerctl and pkg/internal.
package main

import (
	"os"

	"github.com/invokerctl/invokerctl/pkg/invokerctl"
)

func main() { os.Exit(invokerctl.Main()) }
