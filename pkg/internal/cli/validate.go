package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/declset"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
)

// ValidateOptions are the inputs of `invokerctl validate`.
type ValidateOptions struct {
	cmdEnv
	Files []string
}

// githubActionsEnv is set to "true" on a GitHub Actions runner, where
// validate also writes its problems as annotations of the files.
const githubActionsEnv = "GITHUB_ACTIONS"

// NewCmdValidate builds `validate`; runF replaces validateRun in tests.
func NewCmdValidate(f *cmdutil.Factory, runF func(*ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{cmdEnv: newCmdEnv(f)}
	cmd := &cobra.Command{
		Use:   "validate -f FILE|DIR [-f FILE|DIR...]",
		Short: "Check declarations offline: every rule, and the conflicts between them",
		Long: `Check every declaration of the files and directories given (every *.yaml and *.yml file
in a directory with apiVersion: invokerctl/v1) against every rule of the format, reporting
all problems of all files as file:line:col: field: rule, and then the conflicts between
them that plan and apply would refuse: two declarations claiming one service
authoritatively, creating one service account, or sharing a state.

Nothing else is read: no credentials, no Google API, no Terraform, so it runs anywhere,
on a pull request from a fork too. Checks that need the project (do the services exist?)
are plan's. On a GitHub Actions runner ($GITHUB_ACTIONS=true) each problem is also written
as an error annotation of its file and line.

Exit codes: 0 valid, 1 a declaration is invalid or they conflict, 64 a usage error.`,
		Example: `  invokerctl validate -f invokers.yaml
  invokerctl validate -f declarations/`,
		Args: noArgs,
		RunE: runE(&opts.cmdEnv, opts, runF, validateRun),
	}
	cmd.Flags().StringArrayVarP(&opts.Files, "file", "f", nil, "declaration file, or a directory of them (repeatable)")
	return cmd
}

func validateRun(opts *ValidateOptions) error {
	if len(opts.Files) == 0 {
		return cmdutil.Usage(errors.New("-f FILE is required: the declaration(s) to check"))
	}
	ios := opts.IO
	set, invalid, err := declset.LoadAll(opts.Files)
	if err != nil {
		return err
	}
	for _, s := range set.Skipped {
		fmt.Fprintf(ios.ErrOut, "Note: skipped %s.\n", s)
	}
	annotate := opts.Factory.Getenv(githubActionsEnv) == "true"
	for _, err := range invalid {
		fmt.Fprintf(ios.ErrOut, "Error: %v\n", err)
		if annotate {
			writeAnnotations(ios.Out, err)
		}
	}
	if err := writeValidated(ios.Out, set.Decls); err != nil {
		return err
	}
	if len(invalid) > 0 {
		return fmt.Errorf("%d of %d declarations invalid", len(invalid), len(invalid)+len(set.Decls))
	}
	// The working directories are the ones Google's target would use: the
	// conflicts do not depend on the target.
	if err := declset.Check(set.Decls, workdirsOn(target.KindGoogle)); err != nil {
		if annotate {
			writeAnnotations(ios.Out, err)
		}
		return fmt.Errorf("these declarations cannot be applied together:\n%w", err)
	}
	fmt.Fprintf(ios.ErrOut, "%d declaration(s) valid.\n", len(set.Decls))
	return nil
}

// writeValidated lists the declarations that are valid, one line each.
func writeValidated(w io.Writer, decls []*config.Declaration) error {
	if len(decls) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, d := range decls {
		fmt.Fprintf(tw, "valid\t%s\tproject %s\t%d account(s), %d grant(s)\n", d.File, d.Project, len(d.ServiceAccounts), len(d.Grants))
	}
	return tw.Flush()
}

// writeAnnotations writes err as GitHub Actions error annotations: one per
// positioned problem of a declaration, else one for the whole error.
func writeAnnotations(w io.Writer, err error) {
	var ve *config.ValidationError
	if errors.As(err, &ve) && len(ve.Errors) > 0 {
		for _, fe := range ve.Errors {
			msg := fe.Message
			if fe.Path != "" {
				msg = fe.Path + ": " + msg
			}
			fmt.Fprintf(w, "::error file=%s,line=%d,col=%d,title=invokerctl validate::%s\n", annotationProperty(fe.File), fe.Line, fe.Column, annotationData(msg))
		}
		return
	}
	fmt.Fprintf(w, "::error title=invokerctl validate::%s\n", annotationData(err.Error()))
}

// annotationData escapes the message of a workflow command.
func annotationData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// annotationProperty escapes a property value of a workflow command.
func annotationProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
