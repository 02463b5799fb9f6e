// Command invokerctl declares, provisions and proves who may invoke Cloud Run
// services. All logic lives in pkg/cli.
//
// Started under a name beginning with "terraform-provider-google" (a copy in
// a Terraform provider mirror), the same executable serves the offline build
// of the Google provider instead.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/invokerctl/invokerctl/pkg/cli"
	"github.com/invokerctl/invokerctl/pkg/iostreams"
	"github.com/invokerctl/invokerctl/pkg/tfprovider"
)

func main() {
	if strings.HasPrefix(filepath.Base(os.Args[0]), "terraform-provider-google") {
		if err := tfprovider.Serve(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, iostreams.System(), os.Args[1:])
	stop()
	os.Exit(code)
}
