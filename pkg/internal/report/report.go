// Package report renders the results of verify, invoke and run for the
// audiences invokerctl has: a person at a terminal (a table), programs
// (JSON), CI systems (JUnit XML, one test case per grant and per
// invocation) and pull requests (a Markdown summary).
package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Outcome of one case.
type Outcome string

// Outcomes.
const (
	Pass Outcome = "pass"
	Fail Outcome = "fail"
	Skip Outcome = "skip"
	Warn Outcome = "warn" // passed, with something worth a look
	// Error: the check could not be completed (an API or network failure,
	// a timeout, an interruption); it says nothing about the grant. JUnit
	// renders it as <error>, apart from <failure>.
	Error Outcome = "error"
)

// Case is one checked thing: a declared grant, a service's exposure, an
// invocation.
type Case struct {
	Suite    string        `json:"suite"` // "verify" or "invoke"
	Target   string        `json:"target"`
	Name     string        `json:"name"`
	Outcome  Outcome       `json:"outcome"`
	Detail   string        `json:"detail,omitempty"`
	Duration time.Duration `json:"-"`
}

// Format names an output format.
type Format string

// Formats.
const (
	FormatTable    Format = "table"
	FormatJSON     Format = "json"
	FormatJUnit    Format = "junit"
	FormatMarkdown Format = "markdown"
)

// Formats lists every format, in the order help texts name them.
var Formats = []Format{FormatTable, FormatJSON, FormatJUnit, FormatMarkdown}

// ParseFormat validates a --format value.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case FormatTable, FormatJSON, FormatJUnit, FormatMarkdown:
		return Format(s), nil
	}
	return "", fmt.Errorf("unknown format %q (want %s)", s, FormatList())
}

// FormatList names the formats for a help text or an error: "table, json,
// junit or markdown".
func FormatList() string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Counts tallies outcomes.
type Counts struct {
	Pass int `json:"pass"`
	Fail int `json:"fail"`
	Skip int `json:"skip"`
	Warn int `json:"warn"`
	// Error counts checks that could not be completed.
	Error int `json:"error,omitempty"`
}

// Count tallies cases.
func Count(cases []Case) Counts {
	var c Counts
	for _, k := range cases {
		switch k.Outcome {
		case Pass:
			c.Pass++
		case Fail:
			c.Fail++
		case Skip:
			c.Skip++
		case Warn:
			c.Warn++
		case Error:
			c.Error++
		}
	}
	return c
}

// Table writes cases as an aligned table followed by a summary line.
func Table(w io.Writer, cases []Case) error {
	if err := caseRows(w, cases); err != nil {
		return err
	}
	n := Count(cases)
	errs := ""
	if n.Error > 0 {
		errs = fmt.Sprintf(", %d could not be completed", n.Error)
	}
	_, err := fmt.Fprintf(w, "\n%d passed (%d with warnings), %d failed, %d skipped%s\n", n.Pass+n.Warn, n.Warn, n.Fail, n.Skip, errs)
	return err
}

// caseRows writes cases as an aligned table with a header.
func caseRows(w io.Writer, cases []Case) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tTARGET\tCHECK\tRESULT\tDETAIL")
	for _, c := range cases {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Suite, c.Target, c.Name, strings.ToUpper(string(c.Outcome)), oneLine(c.Detail))
	}
	return tw.Flush()
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

// JSON writes v indented.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr,omitempty"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr,omitempty"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// JUnit writes cases as JUnit XML: one suite per stage, one test case per
// case (classname = target), failures and skips with their detail.
func JUnit(w io.Writer, name string, cases []Case) error {
	bySuite := map[string][]Case{}
	for _, c := range cases {
		bySuite[c.Suite] = append(bySuite[c.Suite], c)
	}
	names := make([]string, 0, len(bySuite))
	for n := range bySuite {
		names = append(names, n)
	}
	sort.Strings(names)
	out := junitSuites{Name: name}
	for _, sn := range names {
		s := junitSuite{Name: sn}
		var total time.Duration
		for _, c := range bySuite[sn] {
			jc := junitCase{Name: c.Name, Classname: c.Target, Time: secs(c.Duration)}
			switch c.Outcome {
			case Fail:
				jc.Failure = &junitMessage{Message: firstLine(c.Detail), Body: c.Detail}
				s.Failures++
			case Error:
				jc.Error = &junitMessage{Message: firstLine(c.Detail), Body: c.Detail}
				s.Errors++
			case Skip:
				jc.Skipped = &junitMessage{Message: c.Detail}
				s.Skipped++
			default:
				jc.SystemOut = c.Detail
			}
			total += c.Duration
			s.Cases = append(s.Cases, jc)
		}
		s.Tests = len(s.Cases)
		s.Time = secs(total)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
