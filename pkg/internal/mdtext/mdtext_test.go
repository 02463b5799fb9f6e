package mdtext

import (
	"strings"
	"testing"
)

func TestCell(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a|b", `a\|b`},
		{"two\nlines", "two lines"},
		{"", "-"},
		{`back\slash|`, `back\\slash\|`},
	} {
		if got := Cell(tc.in); got != tc.want {
			t.Errorf("Cell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"roles/run.invoker", "`roles/run.invoker`"},
		{"a`b", "``a`b``"},
		{"`x", "`` `x ``"},
	} {
		if got := Code(tc.in); got != tc.want {
			t.Errorf("Code(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTable(t *testing.T) {
	var b strings.Builder
	Table(&b, []string{"member", "change"}, [][]string{{"user:a|b", "add"}, {"x"}})
	want := "| member | change |\n| --- | --- |\n| user:a\\|b | add |\n| x | - |\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestDetailsFenceOutlastsBody(t *testing.T) {
	var b strings.Builder
	Details(&b, "Terraform <plan>", "text", "```\ninjected\n````\n")
	got := b.String()
	if !strings.Contains(got, "<summary>Terraform &lt;plan&gt;</summary>") {
		t.Errorf("summary not escaped:\n%s", got)
	}
	if !strings.Contains(got, "\n`````text\n") || !strings.HasSuffix(got, "\n`````\n\n</details>\n") {
		t.Errorf("fence does not outlast the body's backticks:\n%s", got)
	}
}
