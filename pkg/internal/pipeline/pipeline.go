// Package pipeline joins the declaration to the proof stages: it turns
// config grants into verify expectations and invoke cases, picks each
// caller's ID-token source, and turns results into report cases.
package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/idtoken"
	"github.com/invokerctl/invokerctl/pkg/internal/invoke"
	"github.com/invokerctl/invokerctl/pkg/internal/report"
	"github.com/invokerctl/invokerctl/pkg/internal/verify"
)

// TargetOf is the verify target a grant names.
func TargetOf(d *config.Declaration, g config.Grant) verify.Target {
	t := verify.Target{Project: d.Project, Location: g.Location}
	if g.Kind == config.KindFunction {
		t.Function = g.Name
	} else {
		t.Service = g.Name
	}
	return t
}

// Expectations lists one expectation per grant, in declaration order.
func Expectations(d *config.Declaration) []verify.Expectation {
	out := make([]verify.Expectation, 0, len(d.Grants))
	for _, g := range d.Grants {
		out = append(out, verify.Expectation{Target: TargetOf(d, g), Members: g.ResolvedMembers, Public: g.Public})
	}
	return out
}

// InvokeCases builds the smoke-test cases of d from the verify report of the
// same declaration (Expectations order), which carries each service's URLs
// and whether a function is event-driven. Grants marked skip are left out;
// grants whose service could not be read become Error results (no call was
// made, so nothing is known about the grant).
func InvokeCases(ctx context.Context, d *config.Declaration, rep *verify.Report, srcs *Sources) ([]invoke.Case, []invoke.Result, error) {
	if len(rep.Results) != len(d.Grants) {
		return nil, nil, fmt.Errorf("verify report has %d results for %d grants", len(rep.Results), len(d.Grants))
	}
	var cases []invoke.Case
	var failed []invoke.Result
	for i, g := range d.Grants {
		res := rep.Results[i]
		if g.Invoke.Skip {
			failed = append(failed, invoke.Result{Check: invoke.CheckInvoke, Target: res.TargetName, Kind: string(g.Kind), Method: g.Invoke.Method, Path: g.Invoke.Path,
				Caller: g.Invoke.Caller, Outcome: invoke.Skip, Reason: "skip: true in the declaration"})
			continue
		}
		if res.Err != nil {
			failed = append(failed, invoke.Result{Check: invoke.CheckInvoke, Target: res.TargetName, Kind: string(g.Kind), Method: g.Invoke.Method, Path: g.Invoke.Path,
				Caller: g.Invoke.Caller, Outcome: invoke.Error, Reason: "cannot invoke: " + res.Err.Error(), Err: res.Err})
			continue
		}
		t := invoke.Target{Name: res.TargetName, Kind: string(g.Kind), URL: res.URI, URLs: res.URLs, CustomAudiences: res.CustomAudiences, Public: g.Public}
		if res.Function != nil {
			t.EventDriven = res.Function.EventDriven
		}
		c := invoke.Case{
			Target:               t,
			Request:              invoke.Request{Method: g.Invoke.Method, Path: g.Invoke.Path, Body: []byte(g.Invoke.Body), ExpectStatus: g.Invoke.ExpectStatus},
			ProbeUnauthenticated: !g.Public,
		}
		if g.Invoke.Caller != "" {
			src, err := srcs.For(ctx, g.Invoke.Caller)
			if err != nil {
				return nil, nil, err
			}
			c.Callers = append(c.Callers, invoke.Caller{Name: g.Invoke.Caller, Source: src})
		} else if g.Public {
			c.Callers = append(c.Callers, invoke.Caller{Name: "anonymous"})
		}
		if g.Invoke.RefusedMember != "" {
			src, err := srcs.For(ctx, g.Invoke.RefusedMember)
			if err != nil {
				return nil, nil, err
			}
			c.Refused = append(c.Refused, invoke.Caller{Name: g.Invoke.RefusedMember, Source: src})
		}
		cases = append(cases, c)
	}
	return cases, failed, nil
}

// InvokeReportCases turns invoke results into report cases.
func InvokeReportCases(results []invoke.Result) []report.Case {
	out := make([]report.Case, 0, len(results))
	for _, r := range results {
		c := report.Case{Suite: "invoke", Target: r.Target, Duration: r.Elapsed}
		switch r.Check {
		case invoke.CheckUnauthenticated:
			c.Name = "refuses unauthenticated"
		case invoke.CheckRefused:
			c.Name = "refuses " + r.Caller
		default:
			c.Name = "invoke as " + r.Caller
			if r.Caller == "" {
				c.Name = "invoke"
			}
		}
		switch r.Outcome {
		case invoke.Pass:
			c.Outcome = report.Pass
		case invoke.Skip:
			c.Outcome = report.Skip
		case invoke.Fail:
			c.Outcome = report.Fail
		default: // Error, Interrupted: no verdict on the grant
			c.Outcome = report.Error
		}
		if r.Outcome == invoke.Interrupted {
			c.Name += " (interrupted)"
		}
		c.Detail = describe(r)
		out = append(out, c)
	}
	return out
}

func describe(r invoke.Result) string {
	if r.Outcome == invoke.Skip {
		return r.Reason
	}
	s := fmt.Sprintf("%s %s → %s", r.Method, r.Path, gotText(r))
	if r.Expected != "" {
		s += " (expected " + r.Expected + ")"
	}
	if r.Attempts > 1 {
		s += fmt.Sprintf(", %d attempts", r.Attempts)
	}
	if r.PropagationDelay > 0 {
		s += fmt.Sprintf(", grant effective after %s", r.PropagationDelay.Round(100*time.Millisecond))
	}
	if r.Reason != "" && r.Outcome != invoke.Pass {
		s += "\n" + idtoken.Redact(r.Reason)
	}
	return s
}

func gotText(r invoke.Result) string {
	if r.Got == 0 {
		return "no response"
	}
	return fmt.Sprint(r.Got)
}

// Failed reports whether any check did not pass: a wrong verdict of a
// service (Fail) or a check that could not be completed (Error,
// Interrupted). invoke.Summarize tells which, for the exit status.
func Failed(results []invoke.Result) bool {
	return invoke.Summarize(results) != invoke.VerdictPass
}

// Incomplete reports whether some check could not be completed (Error or
// Interrupted): the run ends as an error (exit 1), not as a refusal.
func Incomplete(results []invoke.Result) bool {
	return invoke.Summarize(results) >= invoke.VerdictError
}
