package render_test

import (
	"context"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/internal/audit/audittest"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/render"
)

// chromium finds a headless-capable Chromium, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH: install Debian's chromium package (.ci/run does) to check the HTML page in a browser")
	return ""
}

func runChromium(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	home := t.TempDir() // a profile of its own, nothing shared with a user's
	base := []string{"--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
		"--user-data-dir=" + filepath.Join(home, "profile")}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	var stdout strings.Builder
	cmd.Stdout = &stdout
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

var (
	svgEdge    = regexp.MustCompile(`<path [^>]*class="(edge[^"]*)"[^>]*>`)
	svgService = regexp.MustCompile(`<g class="(node service[^"]*)" data-name="([^"]*)"`)
	attr       = regexp.MustCompile(`(data-[a-z]+)="([^"]*)"`)
)

type drawnEdge struct {
	principal, service string
	hidden             bool
}

// drawn reads the services and edges the page's script drew.
func drawn(t *testing.T, dom string) (services map[string]bool, edges []drawnEdge) {
	t.Helper()
	if !strings.Contains(dom, `data-ready="true"`) {
		t.Fatalf("the page's script did not finish:\n%s", dom)
	}
	services = map[string]bool{}
	for _, m := range svgService.FindAllStringSubmatch(dom, -1) {
		services[html.UnescapeString(m[2])] = !strings.Contains(m[1], "hidden")
	}
	for _, m := range svgEdge.FindAllStringSubmatch(dom, -1) {
		e := drawnEdge{hidden: strings.Contains(m[1], "hidden")}
		for _, a := range attr.FindAllStringSubmatch(m[0], -1) {
			switch a[1] {
			case "data-principal":
				e.principal = html.UnescapeString(a[2])
			case "data-service":
				e.service = html.UnescapeString(a[2])
			}
		}
		edges = append(edges, e)
	}
	return services, edges
}

func TestAuditHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	rep, _ := audittest.Full(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "audit.html")
	out := rendered(t, rep, render.HTML)
	if err := os.WriteFile(page, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?i)((src|href)="?https?:|url\(|@import|fetch\(|XMLHttpRequest|<link )`).Find(out); m != nil {
		t.Errorf("the page would reach the network: %s", m)
	}
	want := render.Edges(rep)

	dom := runChromium(t, bin, "--dump-dom", "file://"+page)
	services, edges := drawn(t, dom)
	// Findings are highlighted: each flagged service's node, and the
	// table view lists every grant and every finding.
	flagged := map[string]bool{}
	for _, f := range rep.Findings {
		flagged[f.Service] = true
	}
	for _, m := range svgService.FindAllStringSubmatch(dom, -1) {
		name := html.UnescapeString(m[2])
		if strings.Contains(m[1], "finding") != flagged[name] {
			t.Errorf("service %s highlighted=%v, has findings=%v", name, strings.Contains(m[1], "finding"), flagged[name])
		}
	}
	if n := strings.Count(dom, `<tr class="grant"`); n != len(want) {
		t.Errorf("table view: %d grant rows, want %d", n, len(want))
	}
	if n := strings.Count(dom, `<tr class="finding sev-`); n != len(rep.Findings) {
		t.Errorf("%d finding rows, want %d", n, len(rep.Findings))
	}
	for _, s := range rep.Services {
		if !services[s.Name] {
			t.Errorf("service %s not drawn", s.Name)
		}
	}
	if len(edges) != len(want) {
		t.Errorf("%d edges drawn, want %d", len(edges), len(want))
	}
	drawnSet := map[string]bool{}
	for _, e := range edges {
		drawnSet[e.principal+"|"+e.service] = true
		if e.hidden {
			t.Errorf("edge %s -> %s hidden without a filter", e.principal, e.service)
		}
	}
	for _, e := range want {
		if !drawnSet[e.Principal+"|"+e.Service] {
			t.Errorf("grant %s -> %s not drawn", e.Principal, e.Service)
		}
	}

	// The filter: only orders-api's edges stay visible.
	const q = "orders-api"
	services, edges = drawn(t, runChromium(t, bin, "--dump-dom", "file://"+page+"#filter="+q))
	visible := 0
	for _, e := range edges {
		match := strings.Contains(e.service, q) || strings.Contains(e.principal, q)
		if e.hidden == match {
			t.Errorf("filter %q: edge %s -> %s hidden=%v", q, e.principal, e.service, e.hidden)
		}
		if !e.hidden {
			visible++
		}
	}
	if visible == 0 || visible == len(edges) {
		t.Errorf("filter %q left %d of %d edges", q, visible, len(edges))
	}
	for name, shown := range services {
		if shown != strings.Contains(name, q) {
			t.Errorf("filter %q: service %s shown=%v", q, name, shown)
		}
	}

	shot := filepath.Join(artifactsDir(t), "audit-map.png")
	runChromium(t, bin, "--screenshot="+shot, "--window-size=1280,1000", "--hide-scrollbars", "file://"+page)
	if st, err := os.Stat(shot); err != nil || st.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	t.Logf("screenshot: %s", shot)
}
