package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/internal/planfile"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/tf"
)

// Reviewed plans: `plan --out PLAN` saves a plan file, `apply PLAN` applies
// exactly it, on any runner, after checking it was made from this
// declaration, for this target, by this build.

// savePlan writes the plan file out for the plan res of session s.
func savePlan(env cmdEnv, s *provisionSession, o *ProvisionFlags, res *tf.PlanResult, out string) error {
	declBytes, err := os.ReadFile(o.File)
	if err != nil {
		return err
	}
	planBytes, err := os.ReadFile(res.PlanFile)
	if err != nil {
		return err
	}
	lock, err := s.runner.LockFile()
	if err != nil {
		return fmt.Errorf("reading the dependency lock file: %w", err)
	}
	providers, err := lockedProviders(lock)
	if err != nil {
		return err
	}
	module, err := tf.ModuleDigest()
	if err != nil {
		return err
	}
	summary, err := json.Marshal(res.Summary)
	if err != nil {
		return err
	}
	typ, bucket, prefix := tf.StateBackend(s.decl, s.target)
	p := &planfile.Plan{
		Manifest: planfile.Manifest{
			InvokerctlVersion: Version,
			Created:           time.Now().UTC().Truncate(time.Second),
			Declaration:       planfile.Declaration{Path: o.File, SHA256: planfile.DigestBytes(declBytes)},
			ModuleDigest:      module,
			Providers:         providers,
			Target:            planTarget(s.target, s.decl.Project),
			Backend:           planfile.Backend{Type: typ, Bucket: bucket, Prefix: prefix},
			Changes:           res.Changes,
			Summary:           summary,
		},
		TerraformPlan: planBytes,
		LockFile:      lock,
	}
	if err := planfile.WriteFile(out, p); err != nil {
		return fmt.Errorf("saving the plan to %s: %w", out, err)
	}
	fmt.Fprintf(env.IO.ErrOut, "Saved the plan to %s; apply exactly it with: invokerctl apply %s\n", out, out)
	if !p.Manifest.Backend.Remote() {
		fmt.Fprintf(env.IO.ErrOut, "Note: state stays in the working directory %s: applying this plan on another machine needs remote state (terraform.backend in the declaration).\n", s.runner.WS.Dir)
	}
	return nil
}

func planTarget(t target.Target, project string) planfile.Target {
	return planfile.Target{Kind: string(t.Kind()), APIEndpoint: t.APIEndpoint(), Project: project}
}

func lockedProviders(lock []byte) ([]planfile.Provider, error) {
	locked, err := tf.ParseLockFile(lock)
	if err != nil {
		return nil, err
	}
	out := make([]planfile.Provider, len(locked))
	for i, l := range locked {
		out[i] = planfile.Provider{Source: l.Source, Version: l.Version, Hashes: l.Hashes}
	}
	return out, nil
}

// errStalePlan is what apply PLAN says when Terraform finds the state
// moved on since the plan.
var errStalePlan = errors.New("the state changed since this plan was made; plan again and review it")

// errPlanPartlyApplied is what an interrupted apply PLAN did: the saved
// plan is stale from then on.
var errPlanPartlyApplied = errors.New("what Terraform finished is recorded in its state; plan again, review and apply the new plan to finish")

// refusePlan is a refusal of apply PLAN: nothing ran.
func refusePlan(path string, err error) error {
	return fmt.Errorf("refusing to apply %s: %w; nothing was changed", path, err)
}

// applyPlanRun is `apply PLAN`: read and check the plan file, the
// declaration it was made from and the target, lay out the working
// directory, init, check the providers, and apply exactly the saved plan.
func applyPlanRun(opts *ApplyOptions) error {
	env, o, path := opts.cmdEnv, &opts.ProvisionFlags, opts.PlanPath
	if err := checkSeedFlag(o.Emulator, o.Seed); err != nil {
		return err
	}
	p, err := planfile.ReadFile(path)
	if err != nil {
		return refusePlan(path, err)
	}
	m := &p.Manifest
	declPath := m.Declaration.Path
	declBytes, err := os.ReadFile(declPath)
	if err != nil {
		return refusePlan(path, fmt.Errorf("reading the declaration it was made from: %w", err))
	}
	module, err := tf.ModuleDigest()
	if err != nil {
		return err
	}
	current := planfile.Current{InvokerctlVersion: Version, DeclarationSHA256: planfile.DigestBytes(declBytes), ModuleDigest: module}
	// The declaration first: a changed one is the likely refusal and needs
	// no target.
	current.Target = m.Target
	if err := m.Check(current); err != nil {
		return refusePlan(path, err)
	}
	decl, err := loadDeclaration(env, declPath)
	if err != nil {
		return refusePlan(path, err)
	}
	run := *o
	run.File, run.loaded = declPath, decl
	s, err := openProvisionChecked(env, &run, func(t target.Target) error {
		current.Target = planTarget(t, decl.Project)
		if err := m.Check(current); err != nil {
			return refusePlan(path, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer s.Close()
	ctx := env.Ctx
	if !s.target.IsEmulator() && len(p.LockFile) > 0 {
		// The same provider version and hashes as the plan: init installs
		// exactly them, or fails.
		if err := s.runner.WriteLockFile(p.LockFile); err != nil {
			return err
		}
	}
	if err := s.runner.Init(ctx); err != nil {
		return tfInterrupted(ctx, "running terraform init", errNothingChanged, withUnlockHint(refusePlan(path, err), &run))
	}
	lock, err := s.runner.LockFile()
	if err != nil {
		return refusePlan(path, fmt.Errorf("reading the dependency lock file: %w", err))
	}
	providers, err := lockedProviders(lock)
	if err != nil {
		return refusePlan(path, err)
	}
	if err := m.CheckProviders(providers); err != nil {
		return refusePlan(path, err)
	}
	var summary tf.Summary
	if err := json.Unmarshal(m.Summary, &summary); err != nil {
		return refusePlan(path, &planfile.DamagedError{Reason: "the manifest's summary", Err: err})
	}
	planFile := s.runner.WS.Path(tf.PlanFile)
	if err := os.WriteFile(planFile, p.TerraformPlan, 0o600); err != nil {
		return err
	}
	human := humanOut(env, o)
	if !o.JSON {
		summary.Render(human)
	}
	applied := false
	out := &provisionResult{File: declPath, Project: decl.Project, Target: s.target.Kind(), Workdir: s.runner.WS.Dir,
		Changes: m.Changes, Summary: &summary, Applied: &applied}
	err = s.runner.Apply(ctx, planFile)
	switch {
	case err != nil && (strings.Contains(err.Error(), "Saved plan is stale") || strings.Contains(err.Error(), "Saved plan does not match the given state")):
		_ = os.Remove(planFile)
		return refusePlan(path, errStalePlan)
	case err != nil:
		return tfInterrupted(ctx, "running terraform apply", errPlanPartlyApplied, withUnlockHint(err, &run))
	}
	applied = true
	if out.Outputs, err = s.runner.Outputs(ctx); err != nil {
		return tfInterrupted(ctx, "reading terraform outputs", nil, err)
	}
	if o.JSON {
		return writeJSON(env.IO.Out, out)
	}
	fmt.Fprintln(env.IO.Out, "Applied.")
	renderOutputs(env.IO.Out, out.Outputs)
	return nil
}
