package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/render"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/pipeline"
	"github.com/invokerctl/invokerctl/pkg/internal/verify"
)

// AuditOptions are the inputs of `invokerctl audit`.
type AuditOptions struct {
	cmdEnv
	Projects      []string
	Folders       []string
	Organizations []string
	// Engine is "project" or "asset"; "" picks project for --project
	// alone, asset when a folder or organization is named.
	Engine   string
	Location string
	Files    []string
	Format   string
	FailOn   string
	Rate     float64
	Workers  int
	Emulator string
	Seed     string

	format  render.Format
	failOn  audit.Severity
	parents []string // the asset engine's scope
}

// The audit engines.
const (
	engineProject = "project"
	engineAsset   = "asset"
)

// errProjectEngineScope: the project engine audits projects only.
var errProjectEngineScope = errors.New("--folder and --organization need the asset engine (Cloud Asset Inventory): drop --engine project or use --engine asset")

// NewCmdAudit builds `audit`; runF replaces auditRun in tests.
func NewCmdAudit(f *cmdutil.Factory, runF func(*AuditOptions) error) *cobra.Command {
	opts := &AuditOptions{cmdEnv: newCmdEnv(f)}
	cmd := &cobra.Command{
		Use:   "audit (--project P | --folder F | --organization O)",
		Short: "Report who can invoke every Cloud Run service and function, and why",
		Long: `For every Cloud Run service (and Cloud Run function, 2nd gen, resolved to its service) of the
projects in scope, list each principal that holds run.routes.invoke with the path of its
grant (the service, the project, each folder above, the organization), the role
(predefined or custom), any condition, public exposure (allUsers, allAuthenticatedUsers,
invokerIamDisabled), ingress and custom audiences; then report findings, each with a
rule id, a severity and a fix (see the README's findings table). With -f, compare with
declarations both ways: declared grants missing, invokers no declaration knows.

Two engines read the estate. The project engine (default for --project) lists each
project's services and functions through the Admin APIs and reads one policy per
service. The asset engine (default for --folder and --organization; --engine asset for
projects) reads services, functions and their own policies from Cloud Asset Inventory a
page of up to 1000 at a time. Both read each project's, folder's and organization's
policy once through Resource Manager, and give the same report.

Reads run concurrently (--workers) under a client-side rate limit (--rate); 429 and 5xx
answers are retried with backoff. A resource that cannot be read is named in the report
and the rest of the report still comes out.

Exit codes: 0 done (no finding at or above --fail-on), 5 findings at or above --fail-on,
1 an error (a resource could not be read), 64 a usage error.`,
		Example: `  invokerctl audit --project my-project
  invokerctl audit --project a --project b --location europe-west1 --format html > access.html
  invokerctl audit --organization 123456789 --format html > access.html
  invokerctl audit --folder 987654321 --engine asset --fail-on critical
  invokerctl audit --project my-project -f invokers.yaml --format sarif --fail-on high > audit.sarif`,
		Args: noArgs,
		RunE: runE(&opts.cmdEnv, opts, runF, auditRun),
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&opts.Projects, "project", nil, "project to audit (repeatable)")
	fl.StringArrayVar(&opts.Folders, "folder", nil, "folder to audit, every project below it (repeatable; the asset engine)")
	fl.StringArrayVar(&opts.Organizations, "organization", nil, "organization to audit (repeatable; the asset engine)")
	fl.StringVar(&opts.Engine, "engine", "", "project or asset; default project for --project alone, asset for --folder and --organization")
	fl.StringVar(&opts.Location, "location", "", "audit only this region; default every location")
	fl.StringArrayVarP(&opts.Files, "file", "f", nil, "declaration to compare with (repeatable): drift in both directions")
	fl.StringVar(&opts.Format, "format", "table", "output format: table, json, csv, sarif, dot, markdown or html")
	fl.StringVar(&opts.FailOn, "fail-on", "", "exit 5 when a finding of this severity or higher exists: low, medium, high or critical")
	fl.Float64Var(&opts.Rate, "rate", audit.DefaultRate, "API requests per second, at most")
	fl.IntVar(&opts.Workers, "workers", audit.DefaultWorkers, "API reads in flight, at most")
	addEmulatorFlags(cmd, &opts.Emulator, &opts.Seed)
	return cmd
}

// validate turns every flag problem into a usage error, before any read.
func (o *AuditOptions) validate() error {
	hierarchy := len(o.Folders) > 0 || len(o.Organizations) > 0
	switch o.Engine {
	case "":
		o.Engine = engineProject
		if hierarchy {
			o.Engine = engineAsset
		}
	case engineProject:
		if hierarchy {
			return cmdutil.Usage(errProjectEngineScope)
		}
	case engineAsset:
	default:
		return cmdutil.Usagef("--engine %q: want project or asset", o.Engine)
	}
	if len(o.Projects) == 0 && !hierarchy {
		return cmdutil.Usagef("name what to audit: --project P, --folder F or --organization O (repeatable)")
	}
	o.Projects = slices.Compact(slices.Sorted(slices.Values(o.Projects)))
	o.parents = nil
	for _, kind := range []struct {
		prefix string
		ids    []string
	}{{"projects/", o.Projects}, {"folders/", o.Folders}, {"organizations/", o.Organizations}} {
		for _, id := range kind.ids {
			id = strings.TrimPrefix(id, kind.prefix)
			if id == "" || strings.Contains(id, "/") {
				return cmdutil.Usagef("%q is not a %s id", id, strings.TrimSuffix(kind.prefix, "s/"))
			}
			o.parents = append(o.parents, kind.prefix+id)
		}
	}
	o.parents = slices.Compact(slices.Sorted(slices.Values(o.parents)))
	f, err := render.ParseFormat(o.Format)
	if err != nil {
		return cmdutil.Usage(err)
	}
	o.format = f
	if o.FailOn != "" {
		if o.failOn, err = audit.ParseSeverity(o.FailOn); err != nil {
			return cmdutil.Usage(fmt.Errorf("--fail-on: %w", err))
		}
	}
	if o.Rate <= 0 {
		return cmdutil.Usagef("--rate must be positive")
	}
	if o.Workers <= 0 {
		return cmdutil.Usagef("--workers must be positive")
	}
	return checkSeedFlag(o.Emulator, o.Seed)
}

func auditRun(opts *AuditOptions) error {
	if err := opts.validate(); err != nil {
		return err
	}
	var exps []verify.Expectation
	for _, file := range opts.Files {
		d, err := config.Load(file)
		if err != nil {
			return err
		}
		exps = append(exps, pipeline.Expectations(d)...)
	}
	defaultProject := ""
	if len(opts.Projects) > 0 {
		defaultProject = opts.Projects[0]
	}
	t, stop, err := resolveTarget(opts.cmdEnv, opts.Emulator, opts.Seed, defaultProject)
	if err != nil {
		return err
	}
	defer stop()
	limiter := audit.NewLimiter(opts.Rate)
	ios := opts.IO
	clients, err := gcp.New(opts.Ctx, gcp.Options{Endpoint: t.APIEndpoint(), TokenSource: t.TokenSource(), UserAgent: "invokerctl/" + Version,
		Base: audit.RateLimited(http.DefaultTransport, limiter),
		Retry: gcp.RetryPolicy{OnRetry: func(req *http.Request, status int, wait time.Duration) {
			if ios.IsStderrTTY() {
				fmt.Fprintf(ios.ErrOut, "\r\033[K  %s %s answered %d; retrying in %s\n", req.Method, req.URL.Path, status, wait.Round(time.Millisecond))
			}
		}}})
	if err != nil {
		return err
	}
	eng := &audit.Engine{Clients: clients, Workers: opts.Workers}
	if ios.IsStderrTTY() {
		if opts.Engine == engineAsset {
			fmt.Fprintf(ios.ErrOut, "Auditing %s through Cloud Asset Inventory on %s...\n", strings.Join(opts.parents, ", "), t)
		} else {
			fmt.Fprintf(ios.ErrOut, "Auditing %d project(s) on %s...\n", len(opts.Projects), t)
		}
		eng.Progress = progressBar(ios.ErrOut)
	}
	var rep *audit.Report
	if opts.Engine == engineAsset {
		rep, err = eng.AuditAssets(opts.Ctx, audit.AssetScope{Parents: opts.parents, Location: opts.Location})
	} else {
		rep, err = eng.Audit(opts.Ctx, audit.Scope{Projects: opts.Projects, Location: opts.Location})
	}
	if eng.Progress != nil {
		fmt.Fprint(ios.ErrOut, "\r\033[K")
	}
	if err != nil {
		return err
	}
	rep.Findings = append(audit.Findings(rep), audit.Drift(rep, exps)...)
	rep.Sort()
	if err := render.Write(ios.Out, opts.format, rep, render.Info{Version: Version}); err != nil {
		return err
	}
	if len(rep.Errors) > 0 {
		first := rep.Errors[0]
		return fmt.Errorf("the report is incomplete: %d resource(s) could not be read, first: could not %s %s: %s", len(rep.Errors), first.What, first.Resource, first.Message)
	}
	if opts.failOn != "" {
		if n := rep.AtOrAbove(opts.failOn); n > 0 {
			return cmdutil.WithExitCode(cmdutil.ExitFindings, fmt.Errorf("%d finding(s) of severity %s or higher", n, opts.failOn))
		}
	}
	return nil
}

// progressBar draws the audit's reads on w (a terminal) as a progress bar
// whose total grows as services are discovered; the engine calls it one
// call at a time.
func progressBar(w io.Writer) func(done, total int) {
	var pb *progressbar.ProgressBar
	return func(done, total int) {
		if pb == nil {
			pb = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("  reads"),
				progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish(),
				progressbar.OptionThrottle(50*time.Millisecond))
		}
		if pb.GetMax() != total {
			pb.ChangeMax(total)
		}
		_ = pb.Set(done)
	}
}
