package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/invoke"
	"github.com/invokerctl/invokerctl/pkg/internal/pipeline"
	"github.com/invokerctl/invokerctl/pkg/internal/report"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
)

// The flag sets the commands share, and the positional-argument rule.

// inProcessEmulator is the --emulator value when no URL is given.
const inProcessEmulator = "in-process"

// ProvisionFlags are the flags plan, apply, destroy and run share.
type ProvisionFlags struct {
	File             string
	Terraform        string
	TerraformVersion string
	Workdir          string
	JSON             bool
	// Emulator is "" (Google), inProcessEmulator, or a URL.
	Emulator string
	Seed     string
	// AutoApprove skips the confirmation (apply, destroy, run).
	AutoApprove bool
	// loaded is the declaration of File when already read (run reads it
	// before openProvision to check --credentials).
	loaded *config.Declaration
	// humanToStderr sends summaries and prompts to stderr (run and demo,
	// whose stdout is the final report).
	humanToStderr bool
}

// addProvisionFlags registers the shared flags on cmd; confirm adds
// --auto-approve.
func addProvisionFlags(cmd *cobra.Command, o *ProvisionFlags, confirm bool) {
	f := cmd.Flags()
	addFileFlag(cmd, &o.File, "declaration to provision (invokers.yaml)")
	f.StringVar(&o.Terraform, "terraform", "", "Terraform (or OpenTofu) binary to use; default: terraform >= 1.5 on PATH, else a download")
	f.StringVar(&o.TerraformVersion, "terraform-version", "", "use exactly this Terraform version (found on PATH or downloaded)")
	f.StringVar(&o.Workdir, "workdir", "", "Terraform working directory; default .invokerctl/<project>-<hash> next to the declaration")
	f.BoolVar(&o.JSON, "json", false, "print the result as JSON on stdout (Terraform's own output goes to stderr)")
	addEmulatorFlags(cmd, &o.Emulator, &o.Seed)
	if confirm {
		f.BoolVar(&o.AutoApprove, "auto-approve", false, "do not ask for confirmation")
	}
}

// TargetFlags select where the APIs are, for commands without Terraform.
type TargetFlags struct {
	File     string
	Emulator string
	Seed     string
}

func addTargetFlags(cmd *cobra.Command, o *TargetFlags) {
	addFileFlag(cmd, &o.File, "declaration (invokers.yaml)")
	addEmulatorFlags(cmd, &o.Emulator, &o.Seed)
}

// manyDeclarationVerbs are the verbs whose -f may be given several times
// and name directories: their RunE goes through eachDeclaration. Every
// other verb's -f names one declaration file.
var manyDeclarationVerbs = map[string]bool{"plan": true, "apply": true, "destroy": true, "verify": true, "invoke": true}

// fileFlag is -f. file (the options' File) holds the last value: the
// declaration of a command given one. For the verbs of
// manyDeclarationVerbs it is repeatable, each value a declaration file or a
// directory of declarations, read by declFiles; the others refuse a second
// value (a usage error).
type fileFlag struct {
	file   *string
	values []string
	many   bool
	verb   string
}

func (f *fileFlag) String() string { return strings.Join(f.values, ",") }

func (f *fileFlag) Type() string {
	if f.many {
		return "stringArray"
	}
	return "string"
}

func (f *fileFlag) Set(v string) error {
	if !f.many && len(f.values) > 0 {
		return fmt.Errorf("%s takes one declaration: -f given more than once", f.verb)
	}
	f.values = append(f.values, v)
	*f.file = v
	return nil
}

// addFileFlag registers -f on cmd, storing into file; usage says what the
// one file is.
func addFileFlag(cmd *cobra.Command, file *string, usage string) {
	ff := &fileFlag{file: file, many: manyDeclarationVerbs[cmd.Name()], verb: cmd.Name()}
	if ff.many {
		usage += ", or a directory of them (its *.yaml and *.yml files with apiVersion: " + config.APIVersion + ");\nrepeatable"
	}
	cmd.Flags().VarP(ff, "file", "f", usage)
}

// declFiles lists the -f values of cmd, in order.
func declFiles(cmd *cobra.Command) []string {
	if fl := cmd.Flags().Lookup("file"); fl != nil {
		if ff, ok := fl.Value.(*fileFlag); ok {
			return ff.values
		}
	}
	return nil
}

// addEmulatorFlags registers --emulator[=URL] and --seed.
func addEmulatorFlags(cmd *cobra.Command, emulatorURL, seed *string) {
	f := cmd.Flags()
	f.StringVar(emulatorURL, "emulator", "", "target the emulator at URL (token from $"+target.TokenEnv+"); with no URL, start one in-process (see --seed);\nwithout the flag, $"+target.URLEnv+" when set")
	f.Lookup("emulator").NoOptDefVal = inProcessEmulator
	f.StringVar(seed, "seed", "", "seed file for the in-process emulator (--emulator without URL)")
}

// ProofFlags are the flags verify, invoke and run share.
type ProofFlags struct {
	Format      string
	Credentials []string
	MaxWait     time.Duration
	// RequestTimeout bounds each call to a service (and each token request).
	RequestTimeout time.Duration
	specs          []pipeline.CredentialSpec
	format         report.Format
	// command names the verb in the Markdown summary's heading; each
	// verb's run function sets it.
	command string
}

// addProofFlags registers --format and, withInvoke, --credentials and
// --max-wait.
func addProofFlags(cmd *cobra.Command, o *ProofFlags, withInvoke bool) {
	f := cmd.Flags()
	f.StringVar(&o.Format, "format", "table", "output format: "+report.FormatList()+" (a summary for a pull request;\nappended to $"+cmdutil.StepSummaryEnv+" when set, whatever the format)")
	if withInvoke {
		f.StringArrayVar(&o.Credentials, "credentials", nil, "how a caller gets its ID token: CALLER=impersonate[:DELEGATES], CALLER=key:PATH, CALLER=metadata,\nCALLER=token-file:PATH or CALLER=token-env:VAR (CALLER is a short name, a member, or '*'); repeatable; default impersonate")
		f.DurationVar(&o.MaxWait, "max-wait", invoke.DefaultMaxWait, "how long each check may wait out IAM propagation (a 403 right after a grant), the call in flight included; 0 makes a single attempt")
		f.DurationVar(&o.RequestTimeout, "request-timeout", invoke.DefaultRequestTimeout, "how long one call to a service (or one token request) may take")
	}
}

// validate parses --format and --credentials and checks --max-wait; every
// problem is a usage error.
func (o *ProofFlags) validate() error {
	f, err := report.ParseFormat(o.Format)
	if err != nil {
		return cmdutil.Usage(err)
	}
	o.format = f
	o.specs = nil
	for _, c := range o.Credentials {
		spec, err := pipeline.ParseCredentialSpec(c)
		if err != nil {
			return cmdutil.Usage(err)
		}
		o.specs = append(o.specs, spec)
	}
	if o.MaxWait < 0 {
		return cmdutil.Usage(errors.New("--max-wait must not be negative"))
	}
	if o.RequestTimeout < 0 {
		return cmdutil.Usage(errors.New("--request-timeout must not be negative"))
	}
	return nil
}

// checkCredentials resolves every --credentials caller against decl, so
// that a caller the declaration does not know is a usage error before any
// stage runs (and before anything is provisioned).
func (o *ProofFlags) checkCredentials(decl *config.Declaration) error {
	s := &pipeline.Sources{Decl: decl, Specs: o.specs}
	if err := s.Validate(); err != nil {
		return cmdutil.Usage(err)
	}
	return nil
}

// noArgs rejects positional arguments, with a hint for the common
// `--emulator URL` spelling (the URL needs `=`).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if strings.Contains(args[0], "://") {
		return cmdutil.Usagef("unexpected argument %q: write --emulator=%s", args[0], args[0])
	}
	return cmdutil.Usagef("unexpected argument %q\nRun '%s --help' for usage.", args[0], cmd.CommandPath())
}
