package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
)

// validate: every problem of every file, then the conflicts between
// them, offline; GitHub annotations on a GitHub Actions runner.
func TestValidate(t *testing.T) {
	t.Parallel()
	const valid = manyHead + "serviceAccounts:\n  - name: orders-caller\ngrants:\n  - service: orders-api\n    members: [orders-caller]\n"
	const invalid = manyHead + "grants:\n  - service: orders-api\n    members: [nobody, \"sa:x,y\"]\n"
	const claims = manyHead + "grants:\n  - service: orders-api\n    authoritative: true\n    members: [serviceAccount:x@demo-project.iam.gserviceaccount.com]\n"
	cases := []struct {
		name   string
		files  map[string]string
		github bool
		code   int
		// stdout and stderr hold these; stdoutNot never.
		stdout, stderr []string
		stdoutNot      []string
	}{
		{name: "valid declarations", files: map[string]string{"a.yaml": valid, "notes.yaml": "kind: Note\n"}, code: 0,
			stdout: []string{"valid  {dir}/a.yaml  project demo-project  1 account(s), 1 grant(s)"},
			stderr: []string{"Note: skipped {dir}/notes.yaml", "1 declaration(s) valid."}, stdoutNot: []string{"::error"}},
		{name: "every problem of every file", files: map[string]string{"a.yaml": valid, "b.yaml": invalid, "c.yaml": invalid}, code: cmdutil.ExitError,
			stdout: []string{"valid  {dir}/a.yaml"},
			stderr: []string{
				`{dir}/b.yaml:6:15: grants[0].members[0]: unknown short name "nobody"`,
				`{dir}/b.yaml:6:23: grants[0].members[1]: "sa:x,y" is not a valid IAM member`,
				`{dir}/c.yaml:6:15: grants[0].members[0]`,
				"Error: 2 of 3 declarations invalid"},
			stdoutNot: []string{"::error", "valid  {dir}/b.yaml"}},
		{name: "annotations on GitHub Actions", files: map[string]string{"b.yaml": invalid}, github: true, code: cmdutil.ExitError,
			stdout: []string{
				"::error file={dir}/b.yaml,line=6,col=15,title=invokerctl validate::grants[0].members[0]: unknown short name \"nobody\"",
				"::error file={dir}/b.yaml,line=6,col=23,title=invokerctl validate::grants[0].members[1]: \"sa:x,y\" is not"}},
		{name: "two authoritative claims on one service", files: map[string]string{"a.yaml": claims, "b.yaml": claims}, github: true, code: cmdutil.ExitError,
			stdout: []string{"::error title=invokerctl validate::"},
			stderr: []string{"cannot be applied together", "{dir}/a.yaml", "{dir}/b.yaml", "authoritative"}},
		{name: "a directory without declarations", files: map[string]string{"notes.yaml": "kind: Note\n"}, code: cmdutil.ExitError,
			stderr: []string{"{dir}: no declaration in this directory"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := manyDir(t, tc.files)
			github := "GITHUB_ACTIONS=false"
			if tc.github {
				github = "GITHUB_ACTIONS=true"
			}
			r := runInProcess(t, inProcess{Env: []string{github}}, "validate", "-f", dir)
			wantExit(t, r, tc.code, "validate")
			fill := func(s string) string { return strings.ReplaceAll(s, "{dir}", dir) }
			for _, want := range tc.stdout {
				if !strings.Contains(r.Stdout, fill(want)) {
					t.Errorf("stdout lacks %q:\n%s", fill(want), r.Stdout)
				}
			}
			for _, want := range tc.stderr {
				if !strings.Contains(r.Stderr, fill(want)) {
					t.Errorf("stderr lacks %q:\n%s", fill(want), r.Stderr)
				}
			}
			for _, not := range tc.stdoutNot {
				if strings.Contains(r.Stdout, fill(not)) {
					t.Errorf("stdout holds %q:\n%s", fill(not), r.Stdout)
				}
			}
		})
	}
	t.Run("-f is required", func(t *testing.T) {
		t.Parallel()
		wantExit(t, runInProcess(t, inProcess{}, "validate"), cmdutil.ExitUsage, "validate without -f")
	})
}

// A property of a workflow command escapes what would end it.
func TestAnnotationEscaping(t *testing.T) {
	if got, want := annotationProperty(filepath.Join("a,b", "c:d%.yaml")), "a%2Cb/c%3Ad%25.yaml"; got != want {
		t.Errorf("annotationProperty = %q, want %q", got, want)
	}
	if got, want := annotationData("one\ntwo: 100%"), "one%0Atwo: 100%25"; got != want {
		t.Errorf("annotationData = %q, want %q", got, want)
	}
}
