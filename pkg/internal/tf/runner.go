package tf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
)

// Options configure a Runner.
type Options struct {
	Decl   *config.Declaration
	Target target.Target
	// Workdir overrides DefaultWorkdir.
	Workdir string
	// Find says where Terraform comes from; ExecPath, when already known,
	// skips the search.
	Find     FindOptions
	ExecPath string
	// ProviderExecutable serves the offline provider for an emulator
	// target; default os.Executable().
	ProviderExecutable string
	// PluginCacheDir defaults to DefaultPluginCacheDir (Google target only).
	PluginCacheDir string
	// Stdout and Stderr receive Terraform's own output as it runs;
	// nil discards it.
	Stdout, Stderr io.Writer
	// Environ is the base environment; nil means os.Environ().
	Environ []string
	// LockTimeout is how long to wait for the state lock; default "2m".
	LockTimeout string
	// InterruptGrace is how long a cancelled command gets to stop after
	// Terraform's interrupt before it and its plugins are killed; default
	// InterruptGrace.
	InterruptGrace time.Duration
}

// Runner drives Terraform in one working directory.
type Runner struct {
	WS          *Workspace
	tf          *tfexec.Terraform
	proxy       *refusingProxy
	stdout      io.Writer
	lockTimeout string
	backend     []string
	grace       time.Duration
}

// StepError says which Terraform step failed; the working directory and its
// state are left as they are for the next run.
type StepError struct {
	Step    string // "init", "plan", "show", "apply", "output"
	Workdir string
	Err     error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("terraform %s failed (working directory %s, state kept): %v", e.Step, e.Workdir, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// Open finds Terraform, lays out the working directory and returns a Runner.
// Close it when done.
func Open(ctx context.Context, o Options) (*Runner, error) {
	if o.Decl == nil {
		return nil, errors.New("tf: no declaration")
	}
	dir := o.Workdir
	if dir == "" {
		var err error
		if dir, err = DefaultWorkdir(o.Decl.File, o.Decl.Project, o.Target.Kind()); err != nil {
			return nil, err
		}
	}
	execPath := o.ExecPath
	if execPath == "" {
		var err error
		if execPath, err = Find(ctx, o.Find); err != nil {
			return nil, err
		}
	}
	ws := &Workspace{Dir: dir, Decl: o.Decl, Target: o.Target, ProviderExecutable: o.ProviderExecutable}
	if err := ws.Prepare(); err != nil {
		return nil, fmt.Errorf("preparing %s: %w", dir, err)
	}
	t, err := tfexec.NewTerraform(dir, execPath)
	if err != nil {
		return nil, err
	}
	r := &Runner{WS: ws, tf: t, lockTimeout: o.LockTimeout, backend: BackendConfig(o.Decl, o.Target), grace: o.InterruptGrace}
	if r.lockTimeout == "" {
		r.lockTimeout = "2m"
	}
	if r.grace <= 0 {
		r.grace = InterruptGrace
	}
	// Where the runner cannot find Terraform's process group (outside
	// Linux), os/exec kills Terraform itself a little after the grace.
	_ = t.SetWaitDelay(r.grace + 2*time.Second)
	settings := EnvSettings{PluginCacheDir: o.PluginCacheDir}
	if !o.Target.IsEmulator() {
		if settings.PluginCacheDir == "" {
			settings.PluginCacheDir = DefaultPluginCacheDir()
		}
		if err := os.MkdirAll(settings.PluginCacheDir, 0o755); err != nil {
			return nil, err
		}
	} else {
		if r.proxy, err = startRefusingProxy(); err != nil {
			return nil, err
		}
		settings.RefusingProxy = r.proxy.URL()
	}
	environ := o.Environ
	if environ == nil {
		environ = os.Environ()
	}
	if err := t.SetEnv(ws.Env(environMap(environ), settings)); err != nil {
		r.Close()
		return nil, err
	}
	r.stdout = o.Stdout
	if r.stdout == nil {
		r.stdout = io.Discard
	}
	stderr := o.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	t.SetStderr(stderr)
	// terraform-exec checks the version (once, then cached) before some
	// commands and would echo its JSON to the user's stream: do it quietly
	// now. A binary that cannot tell its version is not Terraform.
	t.SetStdout(io.Discard)
	err = r.run(ctx, func(ctx context.Context) error { _, _, err := t.Version(ctx, true); return err })
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("%s does not answer `version`: %w", execPath, err)
	}
	t.SetStdout(r.stdout)
	return r, nil
}

// Close releases the Runner's helpers. The working directory stays.
func (r *Runner) Close() {
	if r.proxy != nil {
		r.proxy.Close()
	}
}

// ExecPath is the Terraform binary in use.
func (r *Runner) ExecPath() string { return r.tf.ExecPath() }

// Init runs terraform init.
func (r *Runner) Init(ctx context.Context) error {
	opts := []tfexec.InitOption{tfexec.Upgrade(false)}
	for _, bc := range r.backend {
		opts = append(opts, tfexec.BackendConfig(bc))
	}
	if err := r.run(ctx, func(ctx context.Context) error { return r.tf.Init(ctx, opts...) }); err != nil {
		return &StepError{Step: "init", Workdir: r.WS.Dir, Err: err}
	}
	return nil
}

// PlanResult is a saved plan and what it changes.
type PlanResult struct {
	PlanFile string
	// Changes is Terraform's own answer (plan -detailed-exitcode).
	Changes bool
	Summary *Summary
}

// Plan writes a plan file (a destroy plan when destroy is true), reads it
// back with `show -json` and summarizes it.
func (r *Runner) Plan(ctx context.Context, destroy bool) (*PlanResult, error) {
	planFile := r.WS.Path(PlanFile)
	var changes bool
	err := r.run(ctx, func(ctx context.Context) error {
		var err error
		changes, err = r.tf.Plan(ctx, tfexec.Out(planFile), tfexec.Destroy(destroy), tfexec.LockTimeout(r.lockTimeout))
		return err
	})
	if err != nil {
		return nil, &StepError{Step: "plan", Workdir: r.WS.Dir, Err: err}
	}
	var p *tfjson.Plan
	err = r.quiet(func() error {
		return r.run(ctx, func(ctx context.Context) error {
			var err error
			p, err = r.tf.ShowPlanFile(ctx, planFile)
			return err
		})
	})
	if err != nil {
		return nil, &StepError{Step: "show", Workdir: r.WS.Dir, Err: err}
	}
	return &PlanResult{PlanFile: planFile, Changes: changes, Summary: Summarize(p)}, nil
}

// Apply applies exactly the given plan file, then removes it (a plan file
// can be applied only once).
func (r *Runner) Apply(ctx context.Context, planFile string) error {
	err := r.run(ctx, func(ctx context.Context) error {
		return r.tf.Apply(ctx, tfexec.LockTimeout(r.lockTimeout), tfexec.DirOrPlan(planFile))
	})
	if err != nil {
		return &StepError{Step: "apply", Workdir: r.WS.Dir, Err: err}
	}
	_ = os.Remove(planFile)
	return nil
}

// run runs one Terraform command so that cancelling ctx interrupts it and,
// after the grace period, kills it and its plugins (see interruptible).
func (r *Runner) run(ctx context.Context, f func(context.Context) error) error {
	return interruptible(ctx, r.WS.Dir, r.grace, f)
}

// quiet runs f with Terraform's stdout kept from the user: terraform-exec
// copies JSON commands' output to the configured stdout too.
func (r *Runner) quiet(f func() error) error {
	r.tf.SetStdout(io.Discard)
	defer r.tf.SetStdout(r.stdout)
	return f()
}

// Outputs are the root module's outputs after an apply.
type Outputs struct {
	ServiceAccountEmails  map[string]string       `json:"service_account_emails"`
	ServiceAccountMembers map[string]string       `json:"service_account_members"`
	TargetServices        map[string]TargetOutput `json:"target_services"`
	InvokerMembers        map[string]MemberOutput `json:"invoker_members"`
	InvokerBindings       map[string]BindingOut   `json:"invoker_bindings"`
	TokenCreatorBindings  map[string]TokenOutput  `json:"token_creator_bindings"`
}

// TargetOutput is one entry of the target_services output.
type TargetOutput struct {
	Project  string  `json:"project"`
	Location string  `json:"location"`
	Service  string  `json:"service"`
	Function *string `json:"function"`
}

// MemberOutput is one entry of the invoker_members output.
type MemberOutput struct {
	Grant    string `json:"grant"`
	Project  string `json:"project"`
	Location string `json:"location"`
	Service  string `json:"service"`
	Role     string `json:"role"`
	Member   string `json:"member"`
}

// BindingOut is one entry of the invoker_bindings output.
type BindingOut struct {
	Project  string   `json:"project"`
	Location string   `json:"location"`
	Service  string   `json:"service"`
	Role     string   `json:"role"`
	Members  []string `json:"members"`
}

// TokenOutput is one entry of the token_creator_bindings output.
type TokenOutput struct {
	ServiceAccount string `json:"service_account"`
	Role           string `json:"role"`
	Member         string `json:"member"`
}

// Outputs reads the outputs from state.
func (r *Runner) Outputs(ctx context.Context) (*Outputs, error) {
	var raw map[string]tfexec.OutputMeta
	err := r.quiet(func() error {
		return r.run(ctx, func(ctx context.Context) error {
			var err error
			raw, err = r.tf.Output(ctx)
			return err
		})
	})
	if err != nil {
		return nil, &StepError{Step: "output", Workdir: r.WS.Dir, Err: err}
	}
	values := make(map[string]json.RawMessage, len(raw))
	for k, o := range raw {
		values[k] = o.Value
	}
	b, err := json.Marshal(values)
	if err != nil {
		return nil, err
	}
	out := &Outputs{}
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("reading outputs: %w", err)
	}
	return out, nil
}
