package render

import (
	_ "embed"
	"html/template"
	"io"

	"github.com/invokerctl/invokerctl/pkg/internal/audit"
)

//go:embed page.html.tmpl
var pageTemplate string

var page = template.Must(template.New("page").Parse(pageTemplate))

// pageService is a service as the page draws it.
type pageService struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Ingress  string `json:"ingress"`
	Exposure string `json:"exposure"`
	Findings int    `json:"findings"`
}

// pageData is the JSON the page's script draws from.
type pageData struct {
	Scope      []string           `json:"scope"`
	Version    string             `json:"version"`
	Services   []pageService      `json:"services"`
	Principals []string           `json:"principals"`
	Edges      []Edge             `json:"edges"`
	Findings   []audit.Finding    `json:"findings"`
	Errors     []*audit.ReadError `json:"errors"`
	Colors     map[string]string  `json:"colors"`
}

// writeHTML writes one self-contained page: the data as JSON in a script
// element, drawn as SVG by inline script, with no request to any network.
func writeHTML(w io.Writer, r *audit.Report, info Info) error {
	d := pageData{Scope: r.Scope, Version: info.Version, Edges: Edges(r), Findings: r.Findings, Errors: r.Errors, Colors: edgeColors}
	if d.Edges == nil {
		d.Edges = []Edge{}
	}
	if d.Findings == nil {
		d.Findings = []audit.Finding{}
	}
	if d.Errors == nil {
		d.Errors = []*audit.ReadError{}
	}
	count := map[string]int{}
	for _, f := range r.Findings {
		count[f.Service]++
	}
	for _, s := range r.Services {
		d.Services = append(d.Services, pageService{Name: s.Name, Label: s.Label(), Ingress: s.Ingress, Exposure: exposureText(s), Findings: count[s.Name]})
	}
	seen := map[string]bool{}
	for _, e := range d.Edges {
		if !seen[e.Principal] {
			seen[e.Principal] = true
			d.Principals = append(d.Principals, e.Principal)
		}
	}
	return page.Execute(w, d)
}
