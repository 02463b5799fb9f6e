package render

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/internal/audit"
)

func writeJSON(w io.Writer, r *audit.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// CSVHeader is the header row of the csv format: one row per grant (and
// one for a service without any, with the principal empty).
var CSVHeader = []string{"service", "project", "location", "kind", "function", "ingress", "exposure",
	"principal", "role", "custom_role", "path_kind", "path_resource", "condition_title", "condition_expression", "findings"}

func writeCSV(w io.Writer, r *audit.Report) error {
	byGrant := map[string][]string{}
	for _, f := range r.Findings {
		k := f.Service + "|" + f.Principal
		byGrant[k] = append(byGrant[k], f.Rule)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, s := range r.Services {
		kind, fn := "service", ""
		if s.Function != nil {
			kind, fn = "function", s.Function.Name
		}
		base := []string{s.Name, s.Project, s.Location, kind, fn, s.Ingress, exposureText(s)}
		if len(s.Grants) == 0 {
			cw.Write(append(base, "", "", "", "", "", "", "", strings.Join(byGrant[s.Name+"|"], ";")))
			continue
		}
		for _, g := range s.Grants {
			title, expr := "", ""
			if g.Condition != nil {
				title, expr = g.Condition.Title, g.Condition.Expression
			}
			cw.Write(append(append([]string{}, base...), g.Principal, g.Role, strconv.FormatBool(g.CustomRole),
				string(g.Path.Kind), g.Path.Resource, title, expr, strings.Join(dedupe(byGrant[s.Name+"|"+g.Principal]), ";")))
		}
	}
	cw.Flush()
	return cw.Error()
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// SARIF 2.1.0, the subset the audit fills in.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string            `json:"id"`
	Name                 string            `json:"name"`
	ShortDescription     sarifText         `json:"shortDescription"`
	Help                 sarifText         `json:"help"`
	DefaultConfiguration map[string]string `json:"defaultConfiguration"`
	Properties           map[string]any    `json:"properties"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical  `json:"physicalLocation"`
	LogicalLocations []sarifLogical `json:"logicalLocations"`
}

// sarifPhysical names the service by its full resource name
// (//run.googleapis.com/projects/…), the URI Google gives every resource.
type sarifPhysical struct {
	ArtifactLocation struct {
		URI string `json:"uri"`
	} `json:"artifactLocation"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// SARIFSchema is the $schema of the sarif format.
const SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"

// sarifLevel maps a severity to a SARIF level.
func sarifLevel(s audit.Severity) string {
	switch s {
	case audit.Critical, audit.High:
		return "error"
	case audit.Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the score code-scanning dashboards rank by.
var securitySeverity = map[audit.Severity]string{audit.Critical: "9.5", audit.High: "7.5", audit.Medium: "5.0", audit.Low: "2.0"}

func writeSARIF(w io.Writer, r *audit.Report, info Info) error {
	rules := audit.Rules()
	index := map[string]int{}
	tool := info.Tool
	if tool == "" {
		tool = "invokerctl audit"
	}
	d := sarifDriver{Name: tool, Version: info.Version, InformationURI: "https://github.com/invokerctl/invokerctl"}
	for i, rule := range rules {
		index[rule.ID] = i
		d.Rules = append(d.Rules, sarifRule{ID: rule.ID, Name: rule.Name, ShortDescription: sarifText{rule.What}, Help: sarifText{"Fix: " + rule.Fix},
			DefaultConfiguration: map[string]string{"level": sarifLevel(rule.Severity)},
			Properties:           map[string]any{"security-severity": securitySeverity[rule.Severity], "tags": []string{"security", "iam"}}})
	}
	run := sarifRun{Tool: sarifTool{Driver: d}, Results: []sarifResult{}}
	for _, f := range r.Findings {
		path := ""
		if f.Path != nil {
			path = f.Path.Resource
		}
		sum := sha256.Sum256([]byte(strings.Join([]string{f.Rule, f.Service, f.Principal, f.Role, path}, "|")))
		props := map[string]any{"severity": string(f.Severity)}
		if f.Principal != "" {
			props["principal"], props["role"], props["path"] = f.Principal, f.Role, path
		}
		run.Results = append(run.Results, sarifResult{RuleID: f.Rule, RuleIndex: index[f.Rule], Level: sarifLevel(f.Severity),
			Message:             sarifText{f.Message + ". Fix: " + f.Fix},
			Locations:           []sarifLocation{location(f.Service)},
			PartialFingerprints: map[string]string{"invokerctlFinding/v1": hex.EncodeToString(sum[:16])},
			Properties:          props})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: SARIFSchema, Version: "2.1.0", Runs: []sarifRun{run}})
}

func location(service string) sarifLocation {
	l := sarifLocation{LogicalLocations: []sarifLogical{{FullyQualifiedName: service, Kind: "resource"}}}
	l.PhysicalLocation.ArtifactLocation.URI = "//run.googleapis.com/" + service
	return l
}

// edgeColors are the access map's colours by edge kind (dot and html).
var edgeColors = map[string]string{"direct": "#2563eb", "inherited": "#d97706", "public": "#dc2626"}

func writeDOT(w io.Writer, r *audit.Report) error {
	flagged := map[string]bool{}
	for _, f := range r.Findings {
		flagged[f.Service] = true
	}
	fmt.Fprintln(w, "digraph invokers {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];")
	edges := Edges(r)
	seen := map[string]bool{}
	for _, e := range edges {
		if !seen[e.Principal] {
			seen[e.Principal] = true
			fmt.Fprintf(w, "  %s [shape=ellipse, label=%s];\n", dotID("p:"+e.Principal), dotID(e.Principal))
		}
	}
	for _, s := range r.Services {
		attrs := "shape=box"
		if flagged[s.Name] {
			attrs += ", color=\"#dc2626\", penwidth=2"
		}
		fmt.Fprintf(w, "  %s [%s, label=%s];\n", dotID("s:"+s.Name), attrs, dotID(s.Label()))
	}
	for _, e := range edges {
		label := e.Role
		if e.Path != "service" {
			label += "\\n" + e.Path
		}
		style := ""
		if e.Condition != "" {
			style = ", style=dashed"
		}
		if e.Finding {
			style += ", penwidth=2"
		}
		fmt.Fprintf(w, "  %s -> %s [color=%s, label=%s%s];\n", dotID("p:"+e.Principal), dotID("s:"+e.Service), dotID(edgeColors[e.Kind]), dotID(label), style)
	}
	_, err := fmt.Fprintln(w, "}")
	return err
}

// dotID quotes s as a DOT string (keeping a \n escape as a line break).
func dotID(s string) string {
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`
}
