// Package mdtext writes the GitHub-flavoured Markdown invokerctl's
// summaries are made of (pull-request comments, $GITHUB_STEP_SUMMARY): table
// cells that cannot break their table, tables, and folded details whose
// code fence cannot be closed by the text inside it.
package mdtext

import (
	"fmt"
	"io"
	"strings"
)

// Cell escapes s for a table cell: pipes are escaped, line breaks become
// spaces, and an empty cell shows a dash.
func Cell(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\r\n", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// Code is s as inline code, with a fence longer than any run of
// backticks in it.
func Code(s string) string {
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// Table writes a table; every cell goes through Cell.
func Table(w io.Writer, header []string, rows [][]string) {
	line := func(cells []string) {
		out := make([]string, len(header))
		for i := range header {
			v := ""
			if i < len(cells) {
				v = cells[i]
			}
			out[i] = Cell(v)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(out, " | "))
	}
	line(header)
	seps := make([]string, len(header))
	for i := range seps {
		seps[i] = "---"
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(seps, " | "))
	for _, r := range rows {
		line(r)
	}
}

// Details writes body folded under summary, as a code block of lang (""
// for none): a blank line around the fence, which GitHub needs inside
// <details>, and a fence longer than any backtick run in body.
func Details(w io.Writer, summary, lang, body string) {
	fence := strings.Repeat("`", max(3, longestRun(body, '`')+1))
	body = strings.TrimRight(body, "\n")
	fmt.Fprintf(w, "<details><summary>%s</summary>\n\n%s%s\n%s\n%s\n\n</details>\n", escapeHTML(summary), fence, lang, body, fence)
}

func escapeHTML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}
