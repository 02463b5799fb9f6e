package cli

import (
	"io"

	"github.com/invokerctl/invokerctl/pkg/internal/idtoken"
	"github.com/invokerctl/invokerctl/pkg/internal/invoke"
	"github.com/invokerctl/invokerctl/pkg/internal/pipeline"
	"github.com/invokerctl/invokerctl/pkg/internal/report"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/verify"
)

// The report of verify, invoke, run and demo in --format table, json or
// junit. Every reason and error in it is redacted.

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

// write renders the results in the chosen format; failedStage is "" when
// every stage passed, apply is run's provisioning result.
func (p *proofStages) write(w io.Writer, failedStage string, apply *provisionResult) error {
	cases := p.cases()
	switch p.o.format {
	case report.FormatJSON:
		return report.JSON(w, p.document(failedStage, apply, cases))
	case report.FormatJUnit:
		return report.JUnit(w, "invokerctl "+p.decl.File, cases)
	default:
		return report.Table(w, cases)
	}
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
