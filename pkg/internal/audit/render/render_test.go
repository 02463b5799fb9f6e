package render_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/audittest"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/render"
)

func rendered(t *testing.T, rep *audit.Report, f render.Format) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := render.Write(&b, f, rep, render.Info{Version: "test"}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestAuditFormatsParseBack(t *testing.T) {
	rep, _ := audittest.Full(t)
	edges := render.Edges(rep)
	t.Run("json", func(t *testing.T) {
		var back audit.Report
		if err := json.Unmarshal(rendered(t, rep, render.JSON), &back); err != nil {
			t.Fatal(err)
		}
		if len(back.Services) != len(rep.Services) || len(back.Findings) != len(rep.Findings) {
			t.Errorf("json: %d services, %d findings; want %d, %d", len(back.Services), len(back.Findings), len(rep.Services), len(rep.Findings))
		}
	})
	t.Run("csv", func(t *testing.T) {
		rows, err := csv.NewReader(bytes.NewReader(rendered(t, rep, render.CSV))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rows[0], render.CSVHeader) {
			t.Fatalf("header %v", rows[0])
		}
		grants := 0
		for _, s := range rep.Services {
			grants += max(len(s.Grants), 1)
		}
		if len(rows)-1 != grants {
			t.Errorf("%d rows, want %d", len(rows)-1, grants)
		}
		col := slices.Index(render.CSVHeader, "findings")
		flagged := 0
		for _, r := range rows[1:] {
			if len(r) != len(render.CSVHeader) {
				t.Fatalf("row of %d columns: %v", len(r), r)
			}
			if r[col] != "" {
				flagged++
			}
		}
		if flagged == 0 {
			t.Error("no row names a finding")
		}
	})
	t.Run("sarif", func(t *testing.T) {
		out := rendered(t, rep, render.SARIF)
		audittest.ValidateSARIF(t, out)
		var log struct {
			Runs []struct {
				Results []struct{ RuleID string } `json:"results"`
			} `json:"runs"`
		}
		json.Unmarshal(out, &log)
		if len(log.Runs) != 1 || len(log.Runs[0].Results) != len(rep.Findings) {
			t.Errorf("sarif results = %+v, want %d", log, len(rep.Findings))
		}
		// The schema check can fail: a result without a message is refused.
		bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"INV001"}]}]}`))
		if audittest.SARIFSchema(t).Validate(bad) == nil {
			t.Error("schema accepted a result without a message")
		}
	})
	t.Run("dot", func(t *testing.T) {
		out := rendered(t, rep, render.DOT)
		nodes, got := parseDOT(t, string(out))
		if len(got) != len(edges) {
			t.Errorf("dot: %d edges, want %d", len(got), len(edges))
		}
		for _, s := range rep.Services {
			if !nodes["s:"+s.Name] {
				t.Errorf("dot: no node for %s", s.Name)
			}
		}
		if path, err := exec.LookPath("dot"); err == nil {
			cmd := exec.Command(path, "-Tsvg")
			cmd.Stdin = bytes.NewReader(out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("dot -Tsvg: %v\n%s", err, b)
			}
		}
	})
	t.Run("markdown", func(t *testing.T) {
		out := string(rendered(t, rep, render.Markdown))
		for _, s := range rep.Services {
			if !strings.Contains(out, "`"+s.Name+"`") {
				t.Errorf("markdown lacks %s", s.Name)
			}
		}
		if n := strings.Count(out, "\n| "); n < len(rep.Findings)+len(edges) {
			t.Errorf("markdown: %d table rows, want at least %d", n, len(rep.Findings)+len(edges))
		}
	})
	t.Run("table", func(t *testing.T) {
		out := string(rendered(t, rep, render.Table))
		for _, f := range rep.Findings {
			if !strings.Contains(out, f.Message) {
				t.Errorf("table lacks finding %q", f.Message)
			}
		}
	})
}

var (
	dotNode = regexp.MustCompile(`(?m)^  "((?:[^"\\]|\\.)*)" \[`)
	dotEdge = regexp.MustCompile(`(?m)^  "((?:[^"\\]|\\.)*)" -> "((?:[^"\\]|\\.)*)" \[color="(#[0-9a-f]{6})"`)
)

// parseDOT reads the node ids and edges of the dot format, checking that
// it is one digraph and that every edge joins two declared nodes.
func parseDOT(t *testing.T, s string) (map[string]bool, [][3]string) {
	t.Helper()
	if !strings.HasPrefix(s, "digraph ") || !strings.HasSuffix(strings.TrimSpace(s), "}") {
		t.Fatalf("not a digraph:\n%s", s)
	}
	nodes := map[string]bool{}
	for _, m := range dotNode.FindAllStringSubmatch(s, -1) {
		nodes[m[1]] = true
	}
	var edges [][3]string
	for _, m := range dotEdge.FindAllStringSubmatch(s, -1) {
		if !nodes[m[1]] || !nodes[m[2]] {
			t.Errorf("edge %s -> %s joins an undeclared node", m[1], m[2])
		}
		edges = append(edges, [3]string{m[1], m[2], m[3]})
	}
	return nodes, edges
}

func TestAuditParseFormat(t *testing.T) {
	for _, f := range render.Formats {
		if got, err := render.ParseFormat(string(f)); err != nil || got != f {
			t.Errorf("ParseFormat(%s) = %v, %v", f, got, err)
		}
	}
	if _, err := render.ParseFormat("xml"); err == nil {
		t.Error("xml accepted")
	}
}

// artifactsDir is where the browser test leaves its screenshot: the
// directory named by INVOKERCTL_TEST_ARTIFACTS, or the test's temp dir.
func artifactsDir(t *testing.T) string {
	if d := os.Getenv("INVOKERCTL_TEST_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err == nil {
			return d
		}
	}
	return t.TempDir()
}
