// Package invokerctl is the program's entry point, called by cmd/invokerctl.
// It is public only because Go lets nothing outside pkg/ import pkg/internal,
// where the commands and everything they use live.
package invokerctl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/internal/cli"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

// Main runs invokerctl with the process's arguments and streams and returns
// its exit code. Started under a name beginning with
// "terraform-provider-google" (a copy in a Terraform provider mirror), the
// same executable serves the offline build of the Google provider instead.
func Main() int {
	if strings.HasPrefix(filepath.Base(os.Args[0]), "terraform-provider-google") {
		if err := tfprovider.Serve(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	ctx, stop := cmdutil.NotifySignals(context.Background())
	defer stop()
	return cli.Run(ctx, cmdutil.New(), os.Args[1:])
}
