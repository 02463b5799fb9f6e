package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/internal/mdtext"
)

// Summary is a proof report as a pull-request comment or a CI job's
// summary reads it: what ran, on what, and its cases.
type Summary struct {
	// Command is the verb that ran: "verify", "invoke" or "run".
	Command string
	// File, Project and Target say what was checked where (Target is
	// "google" or "emulator").
	File, Project, Target string
	// FailedStage names the stage that failed ("" when none did); the
	// outcome line starts with it when it is not Command itself.
	FailedStage string
	// Notes are lines shown under the file line, as they are (run's
	// provisioning result); they must already be Markdown.
	Notes []string
	Cases []Case
}

// problemOrder is the order problems are listed in: failures first, then
// checks that could not be completed, then warnings.
var problemOrder = []Outcome{Fail, Error, Warn}

// Markdown writes s as GitHub-flavoured Markdown:
//
//	### invokerctl <command>: <outcome>
//	`<file>` · project `<project>` · target <target>
//	a table of the problems (FAIL, ERROR, WARN, in that order)
//	the passing and skipped cases, folded
//
// Every cell and the folded block go through mdtext, so no detail can
// break the table or close the fence.
func Markdown(w io.Writer, s Summary) error {
	var b bytes.Buffer
	stage := s.FailedStage
	if stage == s.Command {
		stage = "" // "verify: 1 failed", not "verify: verify failed: 1 failed"
	}
	fmt.Fprintf(&b, "### invokerctl %s: %s\n\n", s.Command, outcome(stage, s.Cases))
	fmt.Fprintf(&b, "%s · project %s · target %s\n\n", mdtext.Code(s.File), mdtext.Code(s.Project), s.Target)
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "%s\n\n", n)
	}
	var problems [][]string
	for _, o := range problemOrder {
		for _, c := range s.Cases {
			if c.Outcome == o {
				problems = append(problems, []string{strings.ToUpper(string(o)), c.Suite, escapeHTML(c.Target), escapeHTML(c.Name), escapeHTML(c.Detail)})
			}
		}
	}
	switch {
	case len(problems) > 0:
		mdtext.Table(&b, []string{"result", "stage", "target", "check", "detail"}, problems)
		b.WriteString("\n")
	case len(s.Cases) > 0:
		b.WriteString("No failures, errors or warnings.\n\n")
	}
	var rest []Case
	for _, c := range s.Cases {
		if c.Outcome == Pass || c.Outcome == Skip {
			rest = append(rest, c)
		}
	}
	if len(rest) > 0 {
		var body bytes.Buffer
		if err := caseRows(&body, rest); err != nil {
			return err
		}
		n := Count(rest)
		summary := plural(n.Pass, "check") + " passed"
		if n.Skip > 0 {
			summary += fmt.Sprintf(", %d skipped", n.Skip)
		}
		mdtext.Details(&b, summary, "", body.String())
	}
	_, err := w.Write(b.Bytes())
	return err
}

// outcome is the one-line outcome of a report: "4 checks passed", or
// the problems first ("1 failed, 1 could not be completed, 3 passed"),
// prefixed with the stage that failed.
func outcome(failedStage string, cases []Case) string {
	n := Count(cases)
	var parts []string
	add := func(k int, what string) {
		if k > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", k, what))
		}
	}
	if n.Fail+n.Error == 0 {
		switch {
		case len(cases) == 0:
			parts = append(parts, "nothing to check")
		case n.Pass+n.Warn == 0:
			parts = append(parts, "no check ran")
		default:
			parts = append(parts, plural(n.Pass+n.Warn, "check")+" passed")
		}
		add(n.Warn, "with warnings")
		add(n.Skip, "skipped")
	} else {
		add(n.Fail, "failed")
		add(n.Error, "could not be completed")
		add(n.Pass+n.Warn, "passed")
		add(n.Warn, "with warnings")
		add(n.Skip, "skipped")
	}
	out := strings.Join(parts, ", ")
	if failedStage != "" {
		out = failedStage + " failed: " + out
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// escapeHTML keeps a cell (a detail holds an API's or a service's words)
// from opening an HTML tag, which GitHub would render.
func escapeHTML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
