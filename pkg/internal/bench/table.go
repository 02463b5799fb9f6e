// Package bench measures invokerctl beside the baselines it replaces and
// renders one Markdown table: verify and invoke against a sequential loop of
// the same work, apply against a read-modify-write loop and its floor, and
// the emulator's data plane with and without concurrency. Every scenario
// runs against the in-process emulator (pkg/emulator) with added latency,
// through the real Google client libraries, the project's own verify,
// invoke, pipeline and tf code, and the real terraform binary. Nothing here
// is asserted: `make bench` prints the table and writes it to a file.
package bench

import (
	"fmt"
	"strings"
	"time"
)

// Row is one line of the table: a figure of ours beside its baseline.
type Row struct {
	Benchmark string
	Ours      string
	Baseline  string
	// Ratio is baseline ÷ ours for times and counts (above 1: ours is
	// faster or makes fewer calls), ours ÷ baseline for rates.
	Ratio string
}

// Table is the result of a run: its rows and the notes printed under it.
type Table struct {
	Title string
	Rows  []Row
	Notes []string
}

// Markdown renders the table as `| benchmark | ours | baseline | ratio |`.
func (t *Table) Markdown() string {
	var b strings.Builder
	if t.Title != "" {
		fmt.Fprintf(&b, "%s\n\n", t.Title)
	}
	b.WriteString("| benchmark | ours | baseline | ratio |\n| --- | ---: | ---: | ---: |\n")
	for _, r := range t.Rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(r.Benchmark), cell(r.Ours), cell(r.Baseline), cell(r.Ratio))
	}
	if len(t.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range t.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// timeRow compares two durations; the ratio is how many times faster ours is.
func timeRow(name string, ours, base time.Duration) Row {
	return Row{Benchmark: name, Ours: seconds(ours), Baseline: seconds(base), Ratio: ratio(base.Seconds(), ours.Seconds())}
}

// countRow compares two counts; the ratio is baseline ÷ ours.
func countRow(name string, ours, base int) Row {
	return Row{Benchmark: name, Ours: fmt.Sprint(ours), Baseline: fmt.Sprint(base), Ratio: ratio(float64(base), float64(ours))}
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// ratio is num ÷ den as "3.10×", or "n/a" when den is zero.
func ratio(num, den float64) string {
	if den == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", num/den)
}
