package planfile

import (
	"fmt"
	"slices"
	"strings"
)

// Current is what this run of invokerctl would make a plan from; Check
// compares it with what a plan was made from.
type Current struct {
	InvokerctlVersion string
	// DeclarationSHA256 is the digest of the declaration's bytes now, read
	// at the manifest's recorded path.
	DeclarationSHA256 string
	ModuleDigest      string
	Target            Target
}

// MismatchError says a plan was made from or for something other than
// what this run has: What names it, Recorded and Current describe both.
type MismatchError struct {
	What              string
	Recorded, Current string
	// Hint says what to do about it.
	Hint string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s (the plan: %s; this run: %s): %s", e.What, e.Recorded, e.Current, e.Hint)
}

const planAgain = "plan again and review the new plan"

// Check returns a *MismatchError for the first difference between the plan
// and c: the declaration, the target, the invokerctl version, the module.
func (m *Manifest) Check(c Current) error {
	if m.Declaration.SHA256 != c.DeclarationSHA256 {
		return &MismatchError{What: "the declaration " + m.Declaration.Path + " changed since the plan was made",
			Recorded: "sha256 " + short(m.Declaration.SHA256), Current: "sha256 " + short(c.DeclarationSHA256), Hint: planAgain}
	}
	if m.Target != c.Target {
		return &MismatchError{What: "the plan was made for another target",
			Recorded: m.Target.String(), Current: c.Target.String(),
			Hint: "apply it against the target it was made for (--emulator, $INVOKERCTL_EMULATOR_URL) or " + planAgain}
	}
	if m.InvokerctlVersion != c.InvokerctlVersion {
		return &MismatchError{What: "the plan was made by another invokerctl version",
			Recorded: "invokerctl " + m.InvokerctlVersion, Current: "invokerctl " + c.InvokerctlVersion, Hint: planAgain}
	}
	if m.ModuleDigest != c.ModuleDigest {
		return &MismatchError{What: "the plan was made with another version of the Terraform module",
			Recorded: "module " + short(m.ModuleDigest), Current: "module " + short(c.ModuleDigest), Hint: planAgain}
	}
	return nil
}

// CheckProviders returns a *MismatchError when the providers installed for
// this run (from its dependency lock file) differ from the plan's.
func (m *Manifest) CheckProviders(got []Provider) error {
	if providersEqual(m.Providers, got) {
		return nil
	}
	return &MismatchError{What: "the plan was made with another provider build",
		Recorded: describeProviders(m.Providers), Current: describeProviders(got), Hint: planAgain}
}

func providersEqual(a, b []Provider) bool {
	return slices.EqualFunc(a, b, func(x, y Provider) bool {
		return x.Source == y.Source && x.Version == y.Version && slices.Equal(x.Hashes, y.Hashes)
	})
}

func describeProviders(ps []Provider) string {
	if len(ps) == 0 {
		return "no provider"
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		h := ""
		if len(p.Hashes) > 0 {
			h = " " + short(p.Hashes[0])
		}
		out[i] = p.Source + " " + p.Version + h
	}
	return strings.Join(out, ", ")
}

// String describes a target for messages.
func (t Target) String() string {
	where := "Google Cloud"
	if t.Kind != "google" {
		where = t.Kind
		if t.APIEndpoint != "" {
			where += " at " + strings.TrimSuffix(t.APIEndpoint, "/")
		}
	}
	return where + ", project " + t.Project
}

func short(digest string) string {
	if len(digest) > 16 {
		return digest[:16] + "…"
	}
	return digest
}
