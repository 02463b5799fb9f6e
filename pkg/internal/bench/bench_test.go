package bench

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
	"github.com/invokerctl/invokerctl/pkg/internal/tf"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// number is a figure as the table prints it: "1.25 s", "400", "586/s", "3.40×".
var number = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?( s|/s|×| MiB)?$`)

// Every scenario runs at a tiny size so the code cannot rot. Only that each
// produced numbers is checked: the figures themselves are never asserted.
func TestRunTiny(t *testing.T) {
	// The audit's rows: project engine (4), asset engine (2), quota (1),
	// the HTML page's size (1) and, with a Chromium, its load time.
	auditRows := 8
	if findChromium() != "" {
		auditRows++
	}
	tests := []struct {
		name      string
		terraform bool
		rows      int
	}{
		{"without apply", false, 4 + auditRows},
		{"with apply", true, 9 + auditRows},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Size: Size{Services: 3, Callers: 2}, Latency: time.Millisecond,
				DataPlaneDuration: 100 * time.Millisecond, DataPlaneWorkers: 4,
				Audit: AuditSize{Folders: 2, Projects: 3, Services: 6, Sample: 2, Workers: 4, Quota: 100}}
			if tt.terraform {
				testutil.NeedTerraform(t)
				tfPath, err := tf.Find(context.Background(), tf.FindOptions{NoDownload: true})
				if err != nil {
					t.Fatal(err)
				}
				c.Tools = &Tools{Terraform: tfPath, Invokerctl: testutil.Binary(t)}
			}
			tab, err := Run(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if len(tab.Rows) != tt.rows {
				t.Fatalf("%d rows, want %d:\n%s", len(tab.Rows), tt.rows, tab.Markdown())
			}
			for _, r := range tab.Rows {
				for _, v := range []string{r.Ours, r.Baseline, r.Ratio} {
					if !number.MatchString(v) {
						t.Errorf("%s: %q is not a number", r.Benchmark, v)
					}
				}
			}
			if md := tab.Markdown(); !strings.Contains(md, "| benchmark | ours | baseline | ratio |") {
				t.Errorf("no table header in:\n%s", md)
			}
		})
	}
}

func TestMarkdown(t *testing.T) {
	tests := []struct {
		name string
		row  Row
		want string
	}{
		{"times", timeRow("a", time.Second, 3*time.Second), "| a | 1.00 s | 3.00 s | 3.00× |"},
		{"counts", countRow("b", 4, 2), "| b | 4 | 2 | 0.50× |"},
		{"zero ours", countRow("c", 0, 2), "| c | 0 | 2 | n/a |"},
		{"pipe escaped", countRow("x|y", 1, 1), `| x\|y | 1 | 1 | 1.00× |`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := (&Table{Rows: []Row{tt.row}}).Markdown()
			if !strings.Contains(md, tt.want+"\n") {
				t.Errorf("got\n%s\nwant a line %q", md, tt.want)
			}
		})
	}
}
