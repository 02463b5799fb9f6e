package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/pipeline"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/tf"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

// The provisioning session plan, apply, destroy, run and demo share: a
// validated declaration, its target and Terraform opened on its working
// directory; and plan → confirm → apply on it.

// provisionSession is a loaded declaration, its target and an open Runner.
type provisionSession struct {
	decl   *config.Declaration
	target target.Target
	runner *tf.Runner
	stop   func()
}

func (s *provisionSession) Close() {
	if s.runner != nil {
		s.runner.Close()
	}
	if s.stop != nil {
		s.stop()
	}
}

// openProvision validates the declaration (before anything else runs),
// resolves the target, finds Terraform and lays out the working directory.
func openProvision(env cmdEnv, o *ProvisionFlags) (*provisionSession, error) {
	return openProvisionChecked(env, o, nil)
}

// openProvisionChecked is openProvision with check, when not nil, run on
// the resolved target before the working directory is laid out (apply
// PLAN's refusals).
func openProvisionChecked(env cmdEnv, o *ProvisionFlags, check func(target.Target) error) (*provisionSession, error) {
	if o.File == "" {
		return nil, cmdutil.Usage(errors.New("-f FILE is required: the declaration to provision"))
	}
	if err := checkSeedFlag(o.Emulator, o.Seed); err != nil {
		return nil, err
	}
	decl := o.loaded
	if decl == nil {
		var err error
		if decl, err = loadDeclaration(env, o.File); err != nil {
			return nil, err
		}
	}
	s := &provisionSession{decl: decl}
	var err error
	if s.target, s.stop, err = resolveTarget(env, o.Emulator, o.Seed, decl.Project); err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(s.target); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := checkStateBucket(env, decl, s.target); err != nil {
		s.Close()
		if env.Ctx.Err() != nil {
			return nil, cmdutil.Interrupted(env.Ctx, "checking the state bucket", errNothingChanged)
		}
		return nil, err
	}
	ios, f := env.IO, env.Factory
	switch b := decl.Terraform.Backend; {
	case b == nil || !s.target.IsEmulator():
	case tf.UsesEmulatorBackend(decl, s.target):
		fmt.Fprintf(ios.ErrOut, "Note: the declared gcs backend keeps state in the emulator's Cloud Storage (bucket %q).\n", b.Config["bucket"])
	default:
		fmt.Fprintf(ios.ErrOut, "Note: the declared %s backend is not used against the emulator; state stays in the working directory.\n", b.Type)
	}
	environ := f.Environ()
	if s.target.IsEmulator() && f.Getenv(tfprovider.SleepScaleEnv) == "" {
		// The emulator has no eventual consistency to wait out: scale the
		// provider's fixed waits (10 s after each account creation, IAM
		// verification reads) down, keeping some back-off for retries.
		environ = append(environ, tfprovider.SleepScaleEnv+"=0.1")
	}
	s.runner, err = tf.Open(env.Ctx, tf.Options{
		Decl:               decl,
		Target:             s.target,
		Workdir:            o.Workdir,
		Find:               tf.FindOptions{ExecPath: o.Terraform, Version: o.TerraformVersion},
		ProviderExecutable: f.ProviderExecutable,
		Stdout:             ios.ErrOut,
		Stderr:             ios.ErrOut,
		Environ:            environ,
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	fmt.Fprintf(ios.ErrOut, "Using %s in %s against %s.\n", s.runner.ExecPath(), s.runner.WS.Dir, s.target)
	return s, nil
}

// errPartlyApplied is what an interrupted terraform apply did.
var errPartlyApplied = errors.New("what Terraform finished is recorded in its state; run the command again to finish")

// tfInterrupted is err, or when ctx was cancelled (the command
// interrupted), an interruption while doing while: did says what came of
// it, Terraform's own error follows.
func tfInterrupted(ctx context.Context, while string, did, err error) error {
	if ctx.Err() == nil {
		return err
	}
	if did != nil {
		err = fmt.Errorf("%w (%w)", did, err)
	}
	return cmdutil.Interrupted(ctx, while, err)
}

// provisionResult is the --json document of plan, apply and destroy.
type provisionResult struct {
	File    string      `json:"file"`
	Project string      `json:"project"`
	Target  target.Kind `json:"target"`
	Workdir string      `json:"workdir"`
	Changes bool        `json:"changes"`
	Summary *tf.Summary `json:"summary"`
	// Applied is set by apply and destroy.
	Applied *bool       `json:"applied,omitempty"`
	Outputs *tf.Outputs `json:"outputs,omitempty"`
}

func (s *provisionSession) result(res *tf.PlanResult) *provisionResult {
	return &provisionResult{File: s.decl.File, Project: s.decl.Project, Target: s.target.Kind(), Workdir: s.runner.WS.Dir,
		Changes: res.Changes, Summary: res.Summary}
}

// planApply runs init, plan, shows the summary, confirms (unless
// --auto-approve) and applies exactly that plan file, then reads the
// outputs (not after a destroy). The result is nil when nothing was
// planned; after a failed apply it is returned with the error so --json
// still reports what happened.
func (s *provisionSession) planApply(env cmdEnv, o *ProvisionFlags, destroy bool) (*provisionResult, error) {
	ctx := env.Ctx
	if !destroy { // a deleted service's grants must still be removable
		if err := s.checkTargets(env); err != nil {
			return nil, err
		}
	}
	if err := s.runner.Init(ctx); err != nil {
		return nil, tfInterrupted(ctx, "running terraform init", errNothingChanged, withUnlockHint(err, o))
	}
	res, err := s.runner.Plan(ctx, destroy)
	if err != nil {
		return nil, tfInterrupted(ctx, "running terraform plan", errNothingChanged, withUnlockHint(err, o))
	}
	out := s.result(res)
	applied := false
	out.Applied = &applied
	human := humanOut(env, o)
	if !o.JSON || !o.AutoApprove {
		res.Summary.Render(human)
	}
	if res.Changes {
		if !o.AutoApprove {
			question := "Apply these changes"
			if destroy {
				question = "Destroy everything listed above"
			}
			ok, err := confirm(ctx, env.IO.In, human, question)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, ErrNotConfirmed
			}
		}
		if err := s.runner.Apply(ctx, res.PlanFile); err != nil {
			return out, tfInterrupted(ctx, "running terraform apply", errPartlyApplied, withUnlockHint(err, o))
		}
		applied = true
	}
	if !destroy {
		if out.Outputs, err = s.runner.Outputs(ctx); err != nil {
			return out, tfInterrupted(ctx, "reading terraform outputs", nil, err)
		}
	}
	return out, nil
}

// checkTargets reads every declared service and function once before
// Terraform runs, so a location typo fails with the closest real location
// instead of a partial apply (accounts created, then a 404 on the grant).
func (s *provisionSession) checkTargets(env cmdEnv) error {
	clients, err := gcp.New(env.Ctx, gcp.Options{Endpoint: s.target.APIEndpoint(), TokenSource: s.target.TokenSource(), UserAgent: "invokerctl/" + Version})
	if err != nil {
		return err
	}
	return pipeline.CheckTargetsExist(env.Ctx, s.decl, clients, 0)
}
