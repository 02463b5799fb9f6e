package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/tf"
	iam "google.golang.org/api/iam/v1"
	run "google.golang.org/api/run/v2"
)

// Tools are the executables the apply scenario runs.
type Tools struct {
	// Terraform is the terraform binary.
	Terraform string
	// Invokerctl is the invokerctl binary, which serves the offline
	// provider when Terraform starts it.
	Invokerctl string
}

// applyRun is what one apply measurement cost.
type applyRun struct {
	Wall     time.Duration
	APICalls int
	// PolicyCalls are the Cloud Run service policy reads and writes.
	PolicyCalls int
}

// Counters of the Cloud Run service policy methods.
const (
	runGetPolicy = "run.v2.services.getIamPolicy"
	runSetPolicy = "run.v2.services.setIamPolicy"
)

// applyOurs applies d with the project's tf package and the real terraform
// binary twice on one emulator: first from an empty working directory
// (init installs the provider, every account and grant is created), then
// again in the same directory (provider installed, nothing to change).
func applyOurs(ctx context.Context, s Size, latency time.Duration, tools Tools) (cold, warm applyRun, err error) {
	d, err := s.Declaration()
	if err != nil {
		return cold, warm, err
	}
	e, err := startEmulator(s, true, latency)
	if err != nil {
		return cold, warm, err
	}
	defer e.Close()
	dir, err := os.MkdirTemp("", "invokerctl-bench-apply-")
	if err != nil {
		return cold, warm, err
	}
	defer os.RemoveAll(dir)
	for _, r := range []*applyRun{&cold, &warm} {
		if *r, err = measureApply(e, func() error { return terraformApply(ctx, e, d, dir, tools) }); err != nil {
			return cold, warm, err
		}
	}
	return cold, warm, nil
}

// terraformApply is `invokerctl apply --auto-approve` without the CLI
// around it: init, plan, and apply of that plan when it has changes.
func terraformApply(ctx context.Context, e *emu, d *config.Declaration, dir string, tools Tools) error {
	r, err := tf.Open(ctx, tf.Options{Decl: d, Target: e.target, Workdir: dir, ExecPath: tools.Terraform, ProviderExecutable: tools.Invokerctl})
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.Init(ctx); err != nil {
		return err
	}
	plan, err := r.Plan(ctx, false)
	if err != nil {
		return err
	}
	if !plan.Changes {
		return nil
	}
	return r.Apply(ctx, plan.PlanFile)
}

// applyLoop is the baseline: the same accounts and grants made one call at
// a time — create each account, then a read-modify-write of the account's
// policy for the token creator and of the service's policy for each member.
func applyLoop(ctx context.Context, s Size, latency time.Duration) (applyRun, error) {
	d, err := s.Declaration()
	if err != nil {
		return applyRun{}, err
	}
	e, err := startEmulator(s, true, latency)
	if err != nil {
		return applyRun{}, err
	}
	defer e.Close()
	c, err := e.clients(ctx)
	if err != nil {
		return applyRun{}, err
	}
	return measureApply(e, func() error {
		for _, a := range d.ServiceAccounts {
			sa, err := c.IAM.Projects.ServiceAccounts.Create("projects/"+project, &iam.CreateServiceAccountRequest{AccountId: a.AccountID}).Context(ctx).Do()
			if err != nil {
				return err
			}
			if err := addAccountMember(ctx, c, sa.Name, "roles/iam.serviceAccountTokenCreator", d.SmokeTest.TokenCreator); err != nil {
				return err
			}
		}
		for _, g := range d.Grants {
			name := fmt.Sprintf("projects/%s/locations/%s/services/%s", project, g.Location, g.Name)
			for _, m := range g.ResolvedMembers {
				if err := addServiceMember(ctx, c, name, "roles/run.invoker", m); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func addServiceMember(ctx context.Context, c *gcp.Clients, resource, role, member string) error {
	svc := c.Run.Projects.Locations.Services
	p, err := svc.GetIamPolicy(resource).Context(ctx).Do()
	if err != nil {
		return err
	}
	p.Bindings = append(p.Bindings, &run.GoogleIamV1Binding{Role: role, Members: []string{member}})
	_, err = svc.SetIamPolicy(resource, &run.GoogleIamV1SetIamPolicyRequest{Policy: p}).Context(ctx).Do()
	return err
}

func addAccountMember(ctx context.Context, c *gcp.Clients, resource, role, member string) error {
	sas := c.IAM.Projects.ServiceAccounts
	p, err := sas.GetIamPolicy(resource).Context(ctx).Do()
	if err != nil {
		return err
	}
	p.Bindings = append(p.Bindings, &iam.Binding{Role: role, Members: []string{member}})
	_, err = sas.SetIamPolicy(resource, &iam.SetIamPolicyRequest{Policy: p}).Context(ctx).Do()
	return err
}

func measureApply(e *emu, run func() error) (applyRun, error) {
	e.ResetCalls()
	start := time.Now()
	if err := run(); err != nil {
		return applyRun{}, err
	}
	return applyRun{Wall: time.Since(start), APICalls: e.apiCalls(), PolicyCalls: e.calls(runGetPolicy) + e.calls(runSetPolicy)}, nil
}
