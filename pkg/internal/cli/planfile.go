package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
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

// readPlan reads the plan file path and checks what needs no target: the
// declaration it was made from is unchanged (and valid), and this
// invokerctl and its module are the ones that made it. current is what
// the target check still needs filling in.
func readPlan(env cmdEnv, path string) (*planfile.Plan, *config.Declaration, planfile.Current, error) {
	var current planfile.Current
	p, err := planfile.ReadFile(path)
	if err != nil {
		return nil, nil, current, refusePlan(path, err)
	}
	m := &p.Manifest
	declBytes, err := os.ReadFile(m.Declaration.Path)
	if err != nil {
		return nil, nil, current, refusePlan(path, fmt.Errorf("reading the declaration it was made from: %w", err))
	}
	module, err := tf.ModuleDigest()
	if err != nil {
		return nil, nil, current, err
	}
	current = planfile.Current{InvokerctlVersion: Version, DeclarationSHA256: planfile.DigestBytes(declBytes), ModuleDigest: module}
	// The declaration first: a changed one is the likely refusal and needs
	// no target.
	current.Target = m.Target
	if err := m.Check(current); err != nil {
		return nil, nil, current, refusePlan(path, err)
	}
	decl, err := loadDeclaration(env, m.Declaration.Path)
	if err != nil {
		return nil, nil, current, refusePlan(path, err)
	}
	return p, decl, current, nil
}

// applyPlanRun is `apply PLAN`: read and check the plan file, the
// declaration it was made from and the target, lay out the working
// directory, init, check the providers, and apply exactly the saved plan.
func applyPlanRun(opts *ApplyOptions) error {
	env, o, path := opts.cmdEnv, &opts.ProvisionFlags, opts.PlanPath
	if err := checkSeedFlag(o.Emulator, o.Seed); err != nil {
		return err
	}
	info, err := os.Stat(path)
	if err == nil && info.IsDir() {
		return applyPlanDir(opts)
	}
	p, decl, current, err := readPlan(env, path)
	if err != nil {
		return err
	}
	m := &p.Manifest
	declPath := m.Declaration.Path
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

// Plan files of several declarations: `plan -f DIR --out PLANS/` saves
// one plan file per declaration in PLANS, and `apply PLANS/` applies each.

// planExt is the extension of the plan files plan --out DIR/ names.
const planExt = ".plan"

// outIsDir says whether --out names a directory: it ends with a path
// separator, or is one already.
func outIsDir(out string) bool {
	if strings.HasSuffix(out, "/") || strings.HasSuffix(out, string(filepath.Separator)) {
		return true
	}
	info, err := os.Stat(out)
	return err == nil && info.IsDir()
}

// planOutPath is where plan --out saves the plan of the declaration file:
// out itself, or in the directory out, its base name with .plan for
// .yaml (teams/orders.yaml → PLANS/orders.plan). The directory is made
// (0700) when missing.
func planOutPath(out, file string) (string, error) {
	if !outIsDir(out) {
		return out, nil
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return "", fmt.Errorf("--out: %w", err)
	}
	return filepath.Join(out, planName(file)), nil
}

// planName is the plan file name of the declaration file in a --out
// directory.
func planName(file string) string {
	base := filepath.Base(file)
	return strings.TrimSuffix(base, filepath.Ext(base)) + planExt
}

// checkPlanNames is plan's check of --out on several declarations: a
// directory, in which no two of them would save the same file.
func checkPlanNames(out string, decls []*config.Declaration) error {
	if out == "" || len(decls) < 2 {
		return nil
	}
	if !outIsDir(out) {
		return cmdutil.Usagef("--out %s names one plan file, and there are %d declarations: give a directory (--out %s/) to save one plan file per declaration", out, len(decls), strings.TrimSuffix(out, "/"))
	}
	seen := map[string]string{}
	for _, d := range decls {
		name := planName(d.File)
		if first, ok := seen[name]; ok {
			return cmdutil.Usagef("%s and %s would both be saved as %s: rename one, or plan them with different --out directories", first, d.File, filepath.Join(out, name))
		}
		seen[name] = d.File
	}
	return nil
}

// otherPlans lists the *.plan files of the --out directory out that this
// run does not write (names): `apply DIR/` would apply them too.
func otherPlans(out string, names []string) []string {
	entries, err := os.ReadDir(out)
	if err != nil {
		return nil
	}
	var others []string
	for _, e := range entries {
		if filepath.Ext(e.Name()) == planExt && !strings.HasPrefix(e.Name(), ".") && !slices.Contains(names, e.Name()) {
			others = append(others, filepath.Join(out, e.Name()))
		}
	}
	return others
}

// noteOtherPlans says which plan files of the --out directory out this
// run leaves as they were.
func noteOtherPlans(w io.Writer, out string, names []string) {
	if others := otherPlans(out, names); len(others) > 0 {
		fmt.Fprintf(w, "Note: %s also holds %s, not made by this run: 'invokerctl apply %s' would apply them too; remove them unless you mean to.\n", out, strings.Join(others, ", "), out)
	}
}

func (o *PlanOptions) many() manyVerb {
	v := o.provisionMany(o.cmdEnv, false)
	v.json = o.JSON || o.Format == planFormatJSON
	v.markdown = o.Format == planFormatMarkdown
	check := v.check
	v.check = func() error {
		if _, err := o.planFormat(); err != nil {
			return err
		}
		return check()
	}
	v.checkSet = func(decls []*config.Declaration) error {
		if err := checkPlanNames(o.Out, decls); err != nil || o.Out == "" {
			return err
		}
		names := make([]string, len(decls))
		for i, d := range decls {
			names[i] = planName(d.File)
		}
		noteOtherPlans(o.IO.ErrOut, o.Out, names)
		o.otherPlansNoted = true
		return nil
	}
	return v
}

// applyPlanDir is `apply DIR`: the plan files of DIR (its *.plan files,
// hidden ones excluded, links followed, in name order; other files are
// noted and left) are all read and checked first — each made by this
// build from its unchanged declaration, for this target and project, its
// state bucket usable, no two of one declaration or one state — and none
// is applied if one is refused; then each is applied as `apply PLAN`
// applies it, under its header, with one summary and the worst exit code
// (see runMany). What only Terraform can find — a state that moved on, a
// provider build that differs after init — is found per plan as it is
// applied.
func applyPlanDir(opts *ApplyOptions) error {
	env, dir := opts.cmdEnv, opts.PlanPath
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var paths, refused []string
	declarations := false
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		switch ext := filepath.Ext(name); {
		case ext == planExt:
			info, err := os.Stat(path) // follows a link
			if err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				refused = append(refused, path+": not a regular file")
				continue
			}
			paths = append(paths, path)
		case ext == ".yaml" || ext == ".yml":
			declarations = true
			fallthrough
		default:
			fmt.Fprintf(env.IO.ErrOut, "Note: skipped %s: not a plan file (*%s).\n", path, planExt)
		}
	}
	if len(paths) == 0 && len(refused) == 0 {
		msg := fmt.Sprintf("%s holds no plan file (*%s): save them there with 'invokerctl plan -f ... --out %s/'", dir, planExt, strings.TrimSuffix(dir, "/"))
		if declarations {
			msg += fmt.Sprintf("; to plan and apply the declarations in it, use 'invokerctl apply -f %s'", dir)
		}
		return fmt.Errorf("%s; nothing was changed", msg)
	}
	decls, planOf, kind, err := checkPlans(env, opts, dir, paths, refused)
	if err != nil {
		return err
	}
	if len(decls) == 1 {
		one := *opts
		one.PlanPath = planOf[decls[0]]
		return applyPlanRun(&one)
	}
	return runTogether(env, manyVerb{json: opts.JSON, workdir: opts.Workdir}, decls, nil, kind, func(e cmdEnv, d *config.Declaration) error {
		one := *opts
		one.setEnv(e)
		one.PlanPath = planOf[d]
		return applyPlanRun(&one)
	})
}

// checkPlans reads the plan files paths of dir and checks each as
// applyPlanDir says, refused holding the refusals found so far; it
// returns the plans' declarations, the plan of each, and the kind of the
// target, or one error listing every refusal.
func checkPlans(env cmdEnv, opts *ApplyOptions, dir string, paths, refused []string) ([]*config.Declaration, map[*config.Declaration]string, target.Kind, error) {
	type read struct {
		path    string
		plan    *planfile.Plan
		decl    *config.Declaration
		current planfile.Current
	}
	var plans []read
	for _, path := range paths {
		p, decl, current, err := readPlan(env, path)
		if err != nil {
			if env.Ctx.Err() != nil {
				return nil, nil, "", err
			}
			refused = append(refused, err.Error())
			continue
		}
		plans = append(plans, read{path, p, decl, current})
	}
	var (
		decls  []*config.Declaration
		planOf = map[*config.Declaration]string{}
		byDecl = map[string]string{} // the declaration's absolute path → its plan
		kind   target.Kind
	)
	if len(plans) > 0 {
		// The target once, for every plan.
		t, stop, err := resolveTarget(env, opts.Emulator, opts.Seed, plans[0].decl.Project)
		if err != nil {
			return nil, nil, "", err
		}
		defer stop()
		kind = t.Kind()
		for _, r := range plans {
			r.current.Target = planTarget(t, r.decl.Project)
			abs, _ := filepath.Abs(r.decl.File)
			if err = r.plan.Manifest.Check(r.current); err != nil {
				err = refusePlan(r.path, err)
			} else if first, dup := byDecl[abs]; dup {
				err = fmt.Errorf("%s and %s are both plans of %s: keep one", first, r.path, r.decl.File)
			} else if err = checkStateBucket(env, r.decl, t); err != nil {
				err = refusePlan(r.path, err)
			}
			if err != nil {
				if env.Ctx.Err() != nil {
					return nil, nil, "", err
				}
				refused = append(refused, err.Error())
				continue
			}
			byDecl[abs] = r.path
			decls = append(decls, r.decl)
			planOf[r.decl] = r.path
		}
	}
	if len(refused) > 0 {
		return nil, nil, "", fmt.Errorf("refusing every plan of %s, since one cannot be applied; nothing was changed:\n  %s", dir, strings.Join(refused, "\n  "))
	}
	return decls, planOf, kind, nil
}
