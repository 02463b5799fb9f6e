// Package render writes an audit report in each of the audit command's
// formats: table (terminal), json, csv, sarif (SARIF 2.1.0), dot
// (Graphviz), markdown and html (one self-contained page with the access
// map).
package render

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/invokerctl/invokerctl/pkg/internal/audit"
)

// Format is an output format.
type Format string

// The formats.
const (
	Table    Format = "table"
	JSON     Format = "json"
	CSV      Format = "csv"
	SARIF    Format = "sarif"
	DOT      Format = "dot"
	Markdown Format = "markdown"
	HTML     Format = "html"
)

// Formats lists every format.
var Formats = []Format{Table, JSON, CSV, SARIF, DOT, Markdown, HTML}

// ParseFormat reads a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown format %q (want %s)", s, strings.Join(names, ", "))
}

// Info is what the renderers say about the tool.
type Info struct {
	Version string
	// Tool names the command in SARIF's tool.driver.name (code scanning
	// keeps each tool's results apart); default "invokerctl audit".
	Tool string
}

// Write renders r in format f.
func Write(w io.Writer, f Format, r *audit.Report, info Info) error {
	switch f {
	case Table:
		return writeTable(w, r)
	case JSON:
		return writeJSON(w, r)
	case CSV:
		return writeCSV(w, r)
	case SARIF:
		return writeSARIF(w, r, info)
	case DOT:
		return writeDOT(w, r)
	case Markdown:
		return writeMarkdown(w, r)
	case HTML:
		return writeHTML(w, r, info)
	}
	return fmt.Errorf("unknown format %q", f)
}

// Edge is one line of the access map: a principal that can invoke a
// service, through one grant (or the service's invokerIamDisabled).
type Edge struct {
	Principal string `json:"principal"`
	Service   string `json:"service"`
	Role      string `json:"role"`
	// Kind is "direct", "inherited" or "public".
	Kind      string `json:"kind"`
	Path      string `json:"path"`
	Condition string `json:"condition,omitempty"`
	Finding   bool   `json:"finding"`
}

// Anyone is the principal of the edge a service with invokerIamDisabled
// gets: no IAM binding, everyone.
const Anyone = "anyone (invokerIamDisabled)"

// Edges lists the access map's edges in service, principal order.
func Edges(r *audit.Report) []Edge {
	flagged := map[string]bool{}
	for _, f := range r.Findings {
		flagged[f.Service+"|"+f.Principal] = true
	}
	var out []Edge
	for _, s := range r.Services {
		if s.Exposure.InvokerIAMDisabled {
			out = append(out, Edge{Principal: Anyone, Service: s.Name, Kind: "public", Path: "service", Finding: true})
		}
		for _, g := range s.Grants {
			e := Edge{Principal: g.Principal, Service: s.Name, Role: g.Role, Kind: "direct", Path: g.Path.String(), Finding: flagged[s.Name+"|"+g.Principal]}
			switch {
			case g.Principal == "allUsers" || g.Principal == "allAuthenticatedUsers":
				e.Kind = "public"
			case g.Path.Inherited():
				e.Kind = "inherited"
			}
			if g.Condition != nil {
				e.Condition = g.Condition.Expression
			}
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Principal < out[j].Principal
	})
	return out
}

func exposureText(s *audit.Service) string {
	var parts []string
	if s.Exposure.AllUsers {
		parts = append(parts, "allUsers")
	}
	if s.Exposure.AllAuthenticatedUsers {
		parts = append(parts, "allAuthenticatedUsers")
	}
	if s.Exposure.InvokerIAMDisabled {
		parts = append(parts, "invokerIamDisabled")
	}
	if len(parts) == 0 {
		return "private"
	}
	return "PUBLIC: " + strings.Join(parts, ", ")
}

func conditionText(g audit.Grant) string {
	if g.Condition == nil {
		return ""
	}
	if g.Condition.Title != "" {
		return fmt.Sprintf("if %q: %s", g.Condition.Title, g.Condition.Expression)
	}
	return "if " + g.Condition.Expression
}

func writeTable(w io.Writer, r *audit.Report) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, s := range r.Services {
		fmt.Fprintf(tw, "%s\n", s.Label())
		fmt.Fprintf(tw, "  %s; ingress %s", exposureText(s), orDash(s.Ingress))
		if len(s.CustomAudiences) > 0 {
			fmt.Fprintf(tw, "; audiences %s", strings.Join(s.CustomAudiences, ", "))
		}
		if s.Incomplete {
			fmt.Fprint(tw, "; INCOMPLETE (see errors)")
		}
		fmt.Fprintln(tw)
		for _, g := range s.Grants {
			fmt.Fprintf(tw, "  \t%s\t%s\t%s", g.Principal, g.Role, g.Path)
			if c := conditionText(g); c != "" {
				fmt.Fprintf(tw, "\t%s", c)
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\n%d service(s), %d finding(s)", len(r.Services), len(r.Findings))
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, ", %d read error(s)", len(r.Errors))
	}
	fmt.Fprintln(w)
	for _, f := range r.Findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\n  \t\tfix: %s\n", strings.ToUpper(string(f.Severity)), f.Rule, f.Message, f.Fix)
	}
	tw.Flush()
	for _, e := range r.Errors {
		fmt.Fprintf(w, "ERROR %s %s: %s\n", e.What, e.Resource, e.Message)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeMarkdown(w io.Writer, r *audit.Report) error {
	fmt.Fprintf(w, "# Who can invoke what\n\nScope: %s. %d service(s), %d finding(s)", strings.Join(r.Scope, ", "), len(r.Services), len(r.Findings))
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, ", %d read error(s)", len(r.Errors))
	}
	fmt.Fprint(w, ".\n\n")
	if len(r.Findings) > 0 {
		fmt.Fprint(w, "## Findings\n\n| severity | rule | finding | fix |\n| --- | --- | --- | --- |\n")
		for _, f := range r.Findings {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", f.Severity, f.Rule, mdCell(f.Message), mdCell(f.Fix))
		}
		fmt.Fprintln(w)
	}
	if len(r.Errors) > 0 {
		fmt.Fprint(w, "## Read errors\n\n")
		for _, e := range r.Errors {
			fmt.Fprintf(w, "- %s `%s`: %s\n", e.What, e.Resource, mdCell(e.Message))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprint(w, "## Services\n")
	for _, s := range r.Services {
		fmt.Fprintf(w, "\n### %s\n\n`%s` — %s; ingress %s\n\n", mdCell(s.Label()), s.Name, exposureText(s), orDash(s.Ingress))
		if len(s.Grants) == 0 {
			fmt.Fprint(w, "No grant of run.routes.invoke.\n")
			continue
		}
		fmt.Fprint(w, "| principal | role | path | condition |\n| --- | --- | --- | --- |\n")
		for _, g := range s.Grants {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", mdCell(g.Principal), mdCell(g.Role), mdCell(g.Path.String()), mdCell(conditionText(g)))
		}
	}
	return nil
}

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
