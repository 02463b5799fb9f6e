// Command invokerctl declares, provisions and proves who may invoke Cloud Run
// services. All logic lives in pkg/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/invokerctl/invokerctl/pkg/cli"
	"github.com/invokerctl/invokerctl/pkg/iostreams"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, iostreams.System(), os.Args[1:])
	stop()
	os.Exit(code)
}
