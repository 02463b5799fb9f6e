package cli

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/internal/report"
)

// Reading the reports of verify, invoke, run and demo: the table, the
// --format json document and the --format junit document.

// proofRow is one line of the table report.
type proofRow struct{ stage, target, check, result, detail string }

// proofTable parses the table report: columns are separated by at least
// two spaces.
func proofTable(t *testing.T, out string) (rows []proofRow, summary string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "STAGE ") {
		t.Fatalf("not a table report:\n%s", out)
	}
	sep := regexp.MustCompile(`\s{2,}`)
	for _, l := range lines[1:] {
		if l == "" {
			break
		}
		f := sep.Split(strings.TrimRight(l, " "), 5)
		for len(f) < 5 {
			f = append(f, "")
		}
		rows = append(rows, proofRow{f[0], f[1], f[2], f[3], f[4]})
	}
	return rows, lines[len(lines)-1]
}

// proofTally counts rows by result: "3 PASS, 1 SKIP".
func proofTally(rows []proofRow) string {
	n := map[string]int{}
	for _, r := range rows {
		n[r.result]++
	}
	var out []string
	for _, k := range []string{"FAIL", "PASS", "SKIP", "WARN"} {
		if n[k] > 0 {
			out = append(out, fmt.Sprintf("%d %s", n[k], k))
		}
	}
	return strings.Join(out, ", ")
}

// proofFind returns the row of stage whose target starts with target and
// whose check is check.
func proofFind(t *testing.T, rows []proofRow, stage, target, check string) proofRow {
	t.Helper()
	for _, r := range rows {
		if r.stage == stage && strings.HasPrefix(r.target, target) && r.check == check {
			return r
		}
	}
	t.Fatalf("no %s row for %q / %q in %+v", stage, target, check, rows)
	return proofRow{}
}

func proofWant(t *testing.T, rows []proofRow, stage, target, check, result, detail string) {
	t.Helper()
	r := proofFind(t, rows, stage, target, check)
	if r.result != result || !strings.Contains(r.detail, detail) {
		t.Errorf("%s %s %q: %s %q; want %s and %q", stage, target, check, r.result, r.detail, result, detail)
	}
}

// reportDoc is the --format json document, as much as the tests read.
type reportDoc struct {
	OK     bool   `json:"ok"`
	Stage  string `json:"failedStage"`
	Target string `json:"target"`
	Apply  *struct {
		Applied bool `json:"applied"`
	} `json:"apply"`
	Verify []struct {
		Target   string `json:"target"`
		Service  string `json:"service"`
		URI      string `json:"uri"`
		OK       bool   `json:"ok"`
		Function *struct {
			Name        string `json:"name"`
			EventDriven bool   `json:"eventDriven"`
			EventType   string `json:"eventType"`
		} `json:"function"`
		Exposure map[string]any `json:"exposure"`
		Members  []struct {
			Member string `json:"member"`
			Status string `json:"status"`
			Role   string `json:"role"`
			Source string `json:"source"`
		} `json:"members"`
		Problems []string `json:"problems"`
	} `json:"verify"`
	Invoke []struct {
		Check            string `json:"check"`
		Target           string `json:"target"`
		URL              string `json:"url"`
		Caller           string `json:"caller"`
		TokenSource      string `json:"tokenSource"`
		Audience         string `json:"audience"`
		Got              int    `json:"got"`
		Attempts         int    `json:"attempts"`
		PropagationDelay string `json:"propagationDelay"`
		Outcome          string `json:"outcome"`
		Reason           string `json:"reason"`
	} `json:"invoke"`
	Cases []struct {
		Suite, Target, Name, Outcome, Detail string
	} `json:"cases"`
	Counts *report.Counts `json:"counts"`
}

func reportJSON(t *testing.T, r cliResult) reportDoc {
	t.Helper()
	var d reportDoc
	if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil {
		t.Fatalf("--format json output does not parse: %v\n%s\nstderr: %s", err, r.Stdout, r.Stderr)
	}
	return d
}

type proofJUnit struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name  string `xml:"name,attr"`
		Tests int    `xml:"tests,attr"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func proofParseJUnit(t *testing.T, r cliResult) proofJUnit {
	t.Helper()
	var j proofJUnit
	if !strings.HasPrefix(r.Stdout, "<?xml") {
		t.Fatalf("--format junit: not an XML document:\n%s\n%s", r.Stdout, r.Stderr)
	}
	dec := xml.NewDecoder(strings.NewReader(r.Stdout))
	if err := dec.Decode(&j); err != nil {
		t.Fatalf("--format junit: %v\n%s", err, r.Stdout)
	}
	// Nothing but white space after the document.
	if tok, err := dec.Token(); err != io.EOF {
		if cd, ok := tok.(xml.CharData); !ok || strings.TrimSpace(string(cd)) != "" {
			t.Fatalf("--format junit: trailing content %v %v", tok, err)
		}
	}
	return j
}
