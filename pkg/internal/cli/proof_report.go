package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/internal/idtoken"
	"github.com/invokerctl/invokerctl/pkg/internal/invoke"
	"github.com/invokerctl/invokerctl/pkg/internal/pipeline"
	"github.com/invokerctl/invokerctl/pkg/internal/report"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/verify"
)

// The report of verify, invoke, run and demo in --format table, json,
// junit or markdown, and the Markdown summary appended to
// $GITHUB_STEP_SUMMARY whatever the format. Every reason and error in it is
// redacted.

// proofDocument is the --format json document.
type proofDocument struct {
	File    string           `json:"file"`
	Project string           `json:"project"`
	Target  target.Kind      `json:"target"`
	OK      bool             `json:"ok"`
	Stage   string           `json:"failedStage,omitempty"`
	Apply   *provisionResult `json:"apply,omitempty"`
	Verify  []*verifyJSON    `json:"verify,omitempty"`
	Invoke  []invokeJSON     `json:"invoke,omitempty"`
	Cases   []report.Case    `json:"cases"`
	Counts  report.Counts    `json:"counts"`
}

type verifyJSON struct {
	*verify.ServiceResult
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

type invokeJSON struct {
	invoke.Result
	PropagationDelay string `json:"propagationDelay,omitempty"`
	Elapsed          string `json:"elapsed,omitempty"`
}

// cases lists every case the stages produced.
func (p *proofStages) cases() []report.Case {
	var out []report.Case
	if p.verify != nil {
		out = append(out, p.verify.Cases()...)
	}
	return append(out, pipeline.InvokeReportCases(p.invoke)...)
}

// write renders the results in the chosen format, then appends their
// Markdown summary to $GITHUB_STEP_SUMMARY when it is set; failedStage is
// "" when every stage passed, apply is run's provisioning result.
func (p *proofStages) write(w io.Writer, failedStage string, apply *provisionResult) error {
	cases := p.cases()
	markdown := func(w io.Writer) error { return report.Markdown(w, p.summary(failedStage, apply, cases)) }
	var err error
	switch p.o.format {
	case report.FormatJSON:
		err = report.JSON(w, p.document(failedStage, apply, cases))
	case report.FormatJUnit:
		err = report.JUnit(w, "invokerctl "+p.decl.File, cases)
	case report.FormatMarkdown:
		err = markdown(w)
	default:
		err = report.Table(w, cases)
	}
	if err != nil {
		return err
	}
	return p.env.Factory.AppendStepSummary(markdown)
}

// summary is the Markdown summary's content; run's names what Terraform
// applied.
func (p *proofStages) summary(failedStage string, apply *provisionResult, cases []report.Case) report.Summary {
	s := report.Summary{Command: p.o.command, File: p.decl.File, Project: p.decl.Project, Target: string(p.target.Kind()),
		FailedStage: failedStage, Cases: cases}
	if apply != nil {
		s.Notes = append(s.Notes, provisionNote(apply))
	}
	return s
}

// provisionNote is one line on what run's provisioning stage changed.
func provisionNote(r *provisionResult) string {
	if r.Summary == nil || r.Summary.Empty() {
		return "Provisioned: no changes, the grants already matched the declaration."
	}
	sum := r.Summary
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(len(sum.AccountsToCreate), "service account(s) created")
	add(len(sum.AccountsToUpdate), "updated")
	add(len(sum.AccountsToDelete), "deleted")
	var members, removed int
	for _, sc := range sum.Services {
		members += len(sc.Add)
		removed += len(sc.Remove)
	}
	add(members, "invoker member(s) added")
	add(removed, "removed")
	add(len(sum.TokenCreators), "token-creator change(s)")
	add(len(sum.Other), "other change(s)")
	verb := "Provisioned"
	if r.Applied != nil && !*r.Applied {
		verb = "Planned, not applied"
	}
	return verb + ": " + strings.Join(parts, ", ") + "."
}

func (p *proofStages) document(failedStage string, apply *provisionResult, cases []report.Case) proofDocument {
	doc := proofDocument{File: p.decl.File, Project: p.decl.Project, Target: p.target.Kind(), OK: failedStage == "", Stage: failedStage,
		Apply: apply, Cases: cases, Counts: report.Count(cases)}
	if p.verify != nil {
		for _, r := range p.verify.Results {
			vj := &verifyJSON{ServiceResult: r, OK: r.OK()}
			if r.Err != nil {
				vj.Error = idtoken.Redact(r.Err.Error())
			}
			doc.Verify = append(doc.Verify, vj)
		}
	}
	for _, r := range p.invoke {
		ij := invokeJSON{Result: r}
		ij.Reason = idtoken.Redact(r.Reason)
		if r.PropagationDelay > 0 {
			ij.PropagationDelay = r.PropagationDelay.String()
		}
		if r.Elapsed > 0 {
			ij.Elapsed = r.Elapsed.String()
		}
		doc.Invoke = append(doc.Invoke, ij)
	}
	return doc
}
