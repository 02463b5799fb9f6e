package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// hostile is a detail an API or a service could send back: pipes,
// backticks (inline and a whole fence), HTML, a second line.
const hostile = "a|b `c` ```\n``````` </details> <img src=x> \\| end"

func TestMarkdown(t *testing.T) {
	pass := Case{Suite: "verify", Target: "service orders-api", Name: "grant serviceAccount:a@p.iam.gserviceaccount.com", Outcome: Pass, Detail: "present-direct via roles/run.invoker on the service"}
	skip := Case{Suite: "invoke", Target: "function on-upload", Name: "invoke", Outcome: Skip, Detail: "event-driven: only its trigger can call it"}
	fail := Case{Suite: "verify", Target: "service billing-api", Name: "grant serviceAccount:b@p.iam.gserviceaccount.com", Outcome: Fail, Detail: "missing"}
	errc := Case{Suite: "invoke", Target: "service orders-api", Name: "invoke as a (interrupted)", Outcome: Error, Detail: "interrupted"}
	warn := Case{Suite: "verify", Target: "service orders-api", Name: "ingress", Outcome: Warn, Detail: "internal only"}
	for _, tc := range []struct {
		name        string
		command     string
		failedStage string
		cases       []Case
		heading     string
		// problems is the result column of the problems table, in order;
		// nil: no table.
		problems []string
		// folded is the summary of the folded passing cases; "": none.
		folded string
	}{
		{name: "every check passed", command: "verify", cases: []Case{pass, pass},
			heading: "### invokerctl verify: 2 checks passed", folded: "2 checks passed"},
		{name: "passed and skipped", command: "invoke", cases: []Case{skip, pass},
			heading: "### invokerctl invoke: 1 check passed, 1 skipped", folded: "1 check passed, 1 skipped"},
		{name: "only skipped", command: "invoke", cases: []Case{skip},
			heading: "### invokerctl invoke: no check ran, 1 skipped", folded: "0 checks passed, 1 skipped"},
		{name: "nothing to check", command: "verify",
			heading: "### invokerctl verify: nothing to check"},
		{name: "a warning", command: "verify", cases: []Case{pass, warn},
			heading: "### invokerctl verify: 2 checks passed, 1 with warnings", problems: []string{"WARN"}, folded: "1 check passed"},
		{name: "failed", command: "verify", failedStage: "verify", cases: []Case{pass, warn, fail},
			heading: "### invokerctl verify: 1 failed, 2 passed, 1 with warnings", problems: []string{"FAIL", "WARN"}, folded: "1 check passed"},
		{name: "problems first, worst first", command: "run", failedStage: "invoke", cases: []Case{warn, pass, errc, skip, fail, fail},
			heading:  "### invokerctl run: invoke failed: 2 failed, 1 could not be completed, 2 passed, 1 with warnings, 1 skipped",
			problems: []string{"FAIL", "FAIL", "ERROR", "WARN"}, folded: "1 check passed, 1 skipped"},
		{name: "run stopped at verify", command: "run", failedStage: "verify", cases: []Case{fail},
			heading: "### invokerctl run: verify failed: 1 failed", problems: []string{"FAIL"}},
		{name: "interrupted", command: "invoke", failedStage: "invoke", cases: []Case{pass, errc},
			heading: "### invokerctl invoke: 1 could not be completed, 1 passed", problems: []string{"ERROR"}, folded: "1 check passed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			s := Summary{Command: tc.command, File: "teams/orders.yaml", Project: "demo-project", Target: "emulator",
				FailedStage: tc.failedStage, Notes: []string{"Provisioned: no changes."}, Cases: tc.cases}
			if err := Markdown(&b, s); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			lines := strings.Split(out, "\n")
			if lines[0] != tc.heading {
				t.Errorf("heading %q, want %q", lines[0], tc.heading)
			}
			if want := "`teams/orders.yaml` · project `demo-project` · target emulator"; lines[2] != want {
				t.Errorf("file line %q, want %q", lines[2], want)
			}
			if !strings.Contains(out, "\nProvisioned: no changes.\n") {
				t.Errorf("the note is missing:\n%s", out)
			}
			rows := mdTableRows(t, out, 5)
			var results []string
			for i, r := range rows {
				if i > 0 { // below the header
					results = append(results, r[0])
				}
			}
			if strings.Join(results, ",") != strings.Join(tc.problems, ",") {
				t.Errorf("problems %v, want %v\n%s", results, tc.problems, out)
			}
			if tc.problems == nil && len(tc.cases) > 0 && !strings.Contains(out, "No failures, errors or warnings.") {
				t.Errorf("no problems, and it does not say so:\n%s", out)
			}
			folded := regexp.MustCompile(`<details><summary>(.*)</summary>`).FindStringSubmatch(out)
			switch {
			case tc.folded == "" && folded != nil:
				t.Errorf("folded %q, want nothing folded", folded[1])
			case tc.folded != "" && (folded == nil || folded[1] != tc.folded):
				t.Errorf("folded %v, want %q\n%s", folded, tc.folded, out)
			}
		})
	}
}

// A detail cannot add a column, end the table, open an HTML tag or close
// the folded block's fence early.
func TestMarkdownHostileDetails(t *testing.T) {
	var b bytes.Buffer
	cases := []Case{
		{Suite: "verify", Target: "service a|b", Name: "grant `x`", Outcome: Fail, Detail: hostile},
		{Suite: "invoke", Target: "service c", Name: "invoke", Outcome: Pass, Detail: hostile},
		{Suite: "invoke", Target: "service d", Name: "invoke", Outcome: Pass, Detail: "after"},
	}
	if err := Markdown(&b, Summary{Command: "run", File: "a`b.yaml", Project: "p", Target: "google", Cases: cases}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	rows := mdTableRows(t, out, 5)
	if len(rows) != 2 {
		t.Fatalf("%d table rows, want the header and one problem:\n%s", len(rows), out)
	}
	if got := rows[1][1]; got != "verify" {
		t.Errorf("the stage cell is %q: a pipe moved the columns\n%s", got, out)
	}
	if table, _, _ := strings.Cut(out, "<details>"); strings.Contains(table, "<img") || strings.Contains(table, "</details>") {
		t.Errorf("a detail's HTML reached the Markdown:\n%s", out)
	}
	if !strings.Contains(out, "``a`b.yaml``") {
		t.Errorf("the file name's backtick is not fenced:\n%s", out)
	}
	// The folded block: the first line of backticks alone after the
	// opening fence is the closing one, and it comes after every passing
	// case.
	lines := strings.Split(out, "\n")
	open := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "<details>") {
			open = i + 2 // a blank line, then the fence
			break
		}
	}
	if open < 0 || open >= len(lines) || !regexp.MustCompile("^````+$").MatchString(lines[open]) {
		t.Fatalf("no fence of more than 3 backticks opens the folded block (the detail has a run of 7):\n%s", out)
	}
	fence := lines[open]
	closing := -1
	for i := open + 1; i < len(lines); i++ {
		if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, fence) && strings.Trim(l, "`") == "" {
			closing = i
			break
		}
	}
	if closing < 0 || lines[closing] != fence {
		t.Fatalf("the fence is never closed:\n%s", out)
	}
	inside := strings.Join(lines[open+1:closing], "\n")
	if !strings.Contains(inside, "service d") || !strings.Contains(inside, "``````` </details>") {
		t.Errorf("the fence closed before the end of the passing cases:\n%s", out)
	}
	if lines[closing+1] != "" || lines[closing+2] != "</details>" {
		t.Errorf("the folded block does not end with </details>:\n%s", out)
	}
}

func TestParseFormat(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Format
		wantErr string
	}{
		{in: "table", want: FormatTable},
		{in: "json", want: FormatJSON},
		{in: "junit", want: FormatJUnit},
		{in: "markdown", want: FormatMarkdown},
		{in: "md", wantErr: `unknown format "md" (want table, json, junit or markdown)`},
		{in: "", wantErr: `unknown format ""`},
	} {
		got, err := ParseFormat(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseFormat(%q) = %v, want error %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseFormat(%q) = %q, %v", tc.in, got, err)
		}
	}
}

// mdTableRows parses the one GitHub table in md the way GitHub splits a
// row (on pipes not escaped with a backslash) and fails unless every row
// has cols cells.
func mdTableRows(t *testing.T, md string, cols int) [][]string {
	t.Helper()
	var rows [][]string
	for _, l := range strings.Split(md, "\n") {
		if !strings.HasPrefix(l, "|") {
			continue
		}
		cells := splitRow(l)
		if len(cells) != cols {
			t.Fatalf("row has %d cells, want %d: %q", len(cells), cols, l)
		}
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		rows = append(rows, cells)
	}
	return rows
}

func splitRow(l string) []string {
	l = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(l), "|"), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(l); i++ {
		switch {
		case l[i] == '\\' && i+1 < len(l):
			cur.WriteByte(l[i])
			cur.WriteByte(l[i+1])
			i++
		case l[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(l[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}
