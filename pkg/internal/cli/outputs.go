package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/invokerctl/invokerctl/pkg/internal/tf"
)

// Writing provisioning results: the --json document and the list of what
// Terraform manages after an apply.

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// renderOutputs lists the created accounts and the roles/run.invoker
// members the declaration manages, sorted.
func renderOutputs(w io.Writer, o *tf.Outputs) {
	if o == nil {
		return
	}
	if len(o.ServiceAccountEmails) > 0 {
		fmt.Fprintln(w, "Service accounts:")
		for _, k := range sortedKeys(o.ServiceAccountEmails) {
			fmt.Fprintf(w, "  %s  %s\n", k, o.ServiceAccountEmails[k])
		}
	}
	type line struct{ target, member, mode string }
	var lines []line
	for _, m := range o.InvokerMembers {
		lines = append(lines, line{m.Project + "/" + m.Location + "/" + m.Service, m.Member, ""})
	}
	for _, b := range o.InvokerBindings {
		for _, m := range b.Members {
			lines = append(lines, line{b.Project + "/" + b.Location + "/" + b.Service, m, " (authoritative)"})
		}
	}
	sort.Slice(lines, func(i, j int) bool {
		if lines[i].target != lines[j].target {
			return lines[i].target < lines[j].target
		}
		return lines[i].member < lines[j].member
	})
	if len(lines) > 0 {
		fmt.Fprintln(w, "roles/run.invoker managed by this declaration:")
		for _, l := range lines {
			fmt.Fprintf(w, "  %s  %s%s\n", l.target, l.member, l.mode)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
