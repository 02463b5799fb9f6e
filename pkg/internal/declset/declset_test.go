package declset

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/config"
)

// decl is a declaration of project with body after the header.
func decl(project, body string) string {
	return "apiVersion: invokerctl/v1\nproject: " + project + "\nlocation: us-central1\n" + body
}

const memberGrant = "grants:\n  - service: orders\n    members: [serviceAccount:a@ci-proj.iam.gserviceaccount.com]\n"
const authGrant = "grants:\n  - service: orders\n    authoritative: true\n    members: [serviceAccount:b@ci-proj.iam.gserviceaccount.com]\n"

// layout writes files (name -> content; a content starting with "->" is a
// symbolic link to the rest) under a new directory and returns it.
func layout(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "->"); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestLoad(t *testing.T) {
	files := map[string]string{
		"teams/a.yaml":          decl("proj-a", memberGrant),
		"teams/b.yml":           decl("proj-b", memberGrant),
		"teams/kustomize.yaml":  "apiVersion: kustomize.config.k8s.io/v1beta1\nresources: []\n",
		"teams/list.yaml":       "- 1\n- 2\n",
		"teams/noversion.yaml":  "project: x\n",
		"teams/empty.yaml":      "",
		"teams/template.yaml":   "a: {{ .Values.x }\n",
		"teams/README.md":       decl("proj-z", memberGrant),
		"teams/.hidden.yaml":    decl("proj-h", memberGrant),
		"teams/sub/c.yaml":      decl("proj-c", memberGrant),
		"teams/link.yaml":       "->a.yaml",
		"other/c.yaml":          decl("proj-c", memberGrant),
		"broken/bad.yaml":       decl("proj-x", "grants:\n  - service: orders\n    members: [nobody]\n"),
		"broken-yaml/bad.yaml":  "apiVersion: invokerctl/v1\nproject: [\n",
		"empty/notes.yaml":      "kind: Note\n",
		"none/README.md":        "hi",
		"single/kustomize.yaml": "apiVersion: v1\n",
	}
	root := layout(t, files)
	p := func(name string) string { return filepath.Join(root, filepath.FromSlash(name)) }
	cases := []struct {
		name        string
		paths       []string
		wantFiles   []string
		wantSkipped []string // substrings, in order
		wantErr     string
		wantNoDecls bool
	}{
		{name: "one file", paths: []string{p("teams/a.yaml")}, wantFiles: []string{p("teams/a.yaml")}, wantSkipped: []string{}},
		{name: "files in the order given", paths: []string{p("other/c.yaml"), p("teams/a.yaml")}, wantFiles: []string{p("other/c.yaml"), p("teams/a.yaml")}, wantSkipped: []string{}},
		{name: "a directory: its declarations in name order, the rest skipped", paths: []string{p("teams")},
			wantFiles: []string{p("teams/a.yaml"), p("teams/b.yml")},
			wantSkipped: []string{
				"empty.yaml: empty",
				`kustomize.yaml: not a declaration (apiVersion "kustomize.config.k8s.io/v1beta1")`,
				"link.yaml: the same file as " + p("teams/a.yaml"),
				"list.yaml: not a declaration (not a mapping)",
				"noversion.yaml: not a declaration (no apiVersion)",
				"template.yaml: not valid YAML",
			}},
		{name: "a file and its directory: once", paths: []string{p("teams/b.yml"), p("teams")},
			wantFiles: []string{p("teams/b.yml"), p("teams/a.yaml")}, wantSkipped: []string{"b.yml: the same file as " + p("teams/b.yml"), "empty.yaml", "kustomize.yaml", "link.yaml", "list.yaml", "noversion.yaml", "template.yaml"}},
		{name: "the same file twice", paths: []string{p("teams/a.yaml"), p("teams/a.yaml")},
			wantFiles: []string{p("teams/a.yaml")}, wantSkipped: []string{"the same file as"}},
		{name: "a symbolic link to a file given", paths: []string{p("teams/link.yaml"), p("teams/a.yaml")},
			wantFiles: []string{p("teams/link.yaml")}, wantSkipped: []string{"a.yaml: the same file as " + p("teams/link.yaml")}},
		{name: "mixed files and directories", paths: []string{p("other"), p("teams/a.yaml")},
			wantFiles: []string{p("other/c.yaml"), p("teams/a.yaml")}, wantSkipped: []string{}},
		{name: "a directory with no declaration", paths: []string{p("empty")}, wantNoDecls: true,
			wantErr: p("empty") + ": no declaration in this directory"},
		{name: "a directory with no YAML", paths: []string{p("none")}, wantNoDecls: true},
		{name: "a directory with no declaration among others", paths: []string{p("teams"), p("single")}, wantNoDecls: true,
			wantErr: `skipped ` + p("single/kustomize.yaml") + `: not a declaration (apiVersion "v1")`},
		{name: "an invalid declaration in a directory names file, field and rule", paths: []string{p("broken")},
			wantErr: p("broken/bad.yaml") + ":6:15: grants[0].members[0]"},
		{name: "a declaration that is not valid YAML in a directory is reported", paths: []string{p("broken-yaml")},
			wantErr: p("broken-yaml/bad.yaml") + ":"},
		{name: "a file named explicitly must be a declaration", paths: []string{p("single/kustomize.yaml")},
			wantErr: `apiVersion: "v1" is not supported`},
		{name: "a missing path", paths: []string{p("nope.yaml")}, wantErr: "no such file or directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set, err := Load(c.paths)
			if c.wantErr != "" || c.wantNoDecls {
				if err == nil {
					t.Fatalf("Load(%v) = %v, want an error", c.paths, set.Files())
				}
				if !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("error %q does not contain %q", err, c.wantErr)
				}
				var nd *NoDeclarationsError
				if errors.As(err, &nd) != c.wantNoDecls {
					t.Errorf("error %T: *NoDeclarationsError %v, want %v", err, !c.wantNoDecls, c.wantNoDecls)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := set.Files(); strings.Join(got, "\n") != strings.Join(c.wantFiles, "\n") {
				t.Errorf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.wantFiles, "\n"))
			}
			if c.wantSkipped != nil && len(set.Skipped) != len(c.wantSkipped) {
				t.Fatalf("skipped %v, want %d like %v", set.Skipped, len(c.wantSkipped), c.wantSkipped)
			}
			for i, want := range c.wantSkipped {
				if got := set.Skipped[i].String(); !strings.Contains(got, want) {
					t.Errorf("skipped[%d] = %q, want it to contain %q", i, got, want)
				}
			}
		})
	}
}

func TestCheck(t *testing.T) {
	parse := func(t *testing.T, file, content string) *config.Declaration {
		t.Helper()
		d, err := config.Parse(file, []byte(content))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		return d
	}
	gcs := func(bucket, prefix string) string {
		return "terraform:\n  backend:\n    type: gcs\n    config: {bucket: " + bucket + ", prefix: '" + prefix + "'}\n"
	}
	accounts := "serviceAccounts:\n  - name: caller\n"
	byFile := func(d *config.Declaration) (string, error) { return filepath.Join("/state", d.File), nil }
	byProject := func(d *config.Declaration) (string, error) { return filepath.Join("/state", d.Project), nil }
	type want struct {
		kind    string // "claim", "account", "state"
		message string
	}
	cases := []struct {
		name    string
		decls   [][2]string // file, content
		workdir Workdir
		want    []want
	}{
		{name: "member-mode grants by several files on one service are fine",
			decls: [][2]string{{"a.yaml", decl("proj-p", memberGrant)}, {"b.yaml", decl("proj-p", strings.ReplaceAll(memberGrant, "a@", "c@"))}}, workdir: byFile},
		{name: "one authoritative grant alone is fine",
			decls: [][2]string{{"a.yaml", decl("proj-p", authGrant)}, {"b.yaml", decl("proj-p", strings.ReplaceAll(memberGrant, "orders", "billing"))}}, workdir: byFile},
		{name: "the same service name in two projects is fine",
			decls: [][2]string{{"a.yaml", decl("proj-p", authGrant)}, {"b.yaml", decl("proj-q", authGrant)}}},
		{name: "the same service name in two locations is fine",
			decls: [][2]string{{"a.yaml", decl("proj-p", authGrant)}, {"b.yaml", strings.Replace(decl("proj-p", authGrant), "location: us-central1", "location: europe-west1", 1)}}},
		{name: "a service and a function of one name are different targets",
			decls: [][2]string{{"a.yaml", decl("proj-p", authGrant)}, {"b.yaml", decl("proj-p", strings.Replace(authGrant, "service:", "function:", 1))}}},
		{name: "two authoritative claims name both files and the service",
			decls: [][2]string{{"a.yaml", decl("proj-p", authGrant)}, {"b.yaml", decl("proj-p", authGrant)}},
			want:  []want{{"claim", "a.yaml and b.yaml both own the invoker binding of proj-p/service/us-central1/orders authoritatively"}}},
		{name: "two authoritative claims on a function",
			decls: [][2]string{{"a.yaml", decl("proj-p", strings.Replace(authGrant, "service:", "function:", 1))}, {"b.yaml", decl("proj-p", strings.Replace(authGrant, "service:", "function:", 1))}},
			want:  []want{{"claim", "proj-p/function/us-central1/orders"}}},
		{name: "an authoritative and a member-mode claim, either order",
			decls: [][2]string{{"m.yaml", decl("proj-p", memberGrant)}, {"auth.yaml", decl("proj-p", authGrant)}},
			want:  []want{{"claim", "auth.yaml owns the invoker binding of proj-p/service/us-central1/orders authoritatively and m.yaml grants members on it too"}}},
		{name: "three claims: every pair with an owner",
			decls: [][2]string{{"a.yaml", decl("proj-p", authGrant)}, {"b.yaml", decl("proj-p", memberGrant)}, {"c.yaml", decl("proj-p", memberGrant)}},
			want:  []want{{"claim", "a.yaml owns the invoker binding of proj-p/service/us-central1/orders authoritatively and b.yaml grants"}, {"claim", "a.yaml owns the invoker binding of proj-p/service/us-central1/orders authoritatively and c.yaml grants"}}},
		{name: "one account created by two declarations",
			decls: [][2]string{{"a.yaml", decl("proj-p", accounts)}, {"b.yaml", decl("proj-p", accounts)}},
			want:  []want{{"account", "a.yaml and b.yaml both create the service account caller@proj-p.iam.gserviceaccount.com"}}},
		{name: "the same short name in two projects is two accounts",
			decls: [][2]string{{"a.yaml", decl("proj-p", accounts)}, {"b.yaml", decl("proj-q", accounts)}}},
		{name: "a shared working directory",
			decls:   [][2]string{{"a.yaml", decl("proj-p", memberGrant)}, {"b.yaml", decl("proj-p", strings.ReplaceAll(memberGrant, "orders", "billing"))}},
			workdir: byProject,
			want:    []want{{"state", "a.yaml and b.yaml would share the Terraform working directory " + filepath.FromSlash("/state/proj-p")}}},
		{name: "a shared gcs bucket and prefix",
			decls: [][2]string{{"a.yaml", decl("proj-p", gcs("tf", "invokers/"))}, {"b.yaml", decl("proj-q", gcs("tf", "/invokers"))}}, workdir: byFile,
			want: []want{{"state", "would share the Terraform backend state gs://tf/invokers"}}},
		{name: "one bucket, two prefixes is fine",
			decls: [][2]string{{"a.yaml", decl("proj-p", gcs("tf", "team-a"))}, {"b.yaml", decl("proj-q", gcs("tf", "team-b"))}}, workdir: byFile},
		{name: "another backend type with the same settings",
			decls: [][2]string{
				{"a.yaml", decl("proj-p", "terraform:\n  backend:\n    type: s3\n    config: {bucket: tf, key: k}\n")},
				{"b.yaml", decl("proj-q", "terraform:\n  backend:\n    type: s3\n    config: {key: k, bucket: tf}\n")}},
			want: []want{{"state", "s3 backend (bucket=tf, key=k)"}}},
		{name: "every conflict at once",
			decls: [][2]string{{"a.yaml", decl("proj-p", authGrant+accounts+gcs("tf", ""))}, {"b.yaml", decl("proj-p", authGrant+accounts+gcs("tf", ""))}}, workdir: byProject,
			want: []want{{"claim", "both own"}, {"account", "both create"}, {"state", "working directory"}, {"state", "gs://tf/"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var decls []*config.Declaration
			for _, d := range c.decls {
				decls = append(decls, parse(t, d[0], d[1]))
			}
			err := Check(decls, c.workdir)
			var got []error
			if err != nil {
				got = err.(interface{ Unwrap() []error }).Unwrap()
			}
			if len(got) != len(c.want) {
				t.Fatalf("Check = %v, want %d conflict(s)", err, len(c.want))
			}
			for i, w := range c.want {
				var ok bool
				switch w.kind {
				case "claim":
					var e *ClaimConflictError
					ok = errors.As(got[i], &e)
				case "account":
					var e *SharedAccountError
					ok = errors.As(got[i], &e)
				case "state":
					var e *SharedStateError
					ok = errors.As(got[i], &e)
				}
				if !ok {
					t.Errorf("conflict %d is a %T, want a %s conflict", i, got[i], w.kind)
				}
				if !strings.Contains(got[i].Error(), w.message) {
					t.Errorf("conflict %d: %q does not contain %q", i, got[i], w.message)
				}
			}
		})
	}
}

// LoadAll reads past declarations that do not load, returning each one's
// error, and still stops at what stops the reading itself.
func TestLoadAll(t *testing.T) {
	root := layout(t, map[string]string{
		"teams/a.yaml":     decl("proj-a", memberGrant),
		"teams/bad.yaml":   decl("proj-x", "grants:\n  - service: orders\n    members: [nobody]\n"),
		"teams/c.yaml":     decl("proj-c", memberGrant),
		"teams/notes.yaml": "kind: Note\n",
		"broken/x.yaml":    "apiVersion: invokerctl/v1\nproject: [\n",
		"empty/notes.yaml": "kind: Note\n",
	})
	p := func(name string) string { return filepath.Join(root, filepath.FromSlash(name)) }
	set, invalid, err := LoadAll([]string{p("teams"), p("broken")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(set.Files(), " "), p("teams/a.yaml")+" "+p("teams/c.yaml"); got != want {
		t.Errorf("loaded %s, want %s", got, want)
	}
	if len(invalid) != 2 || !strings.Contains(invalid[0].Error(), p("teams/bad.yaml")+":6:15: grants[0].members[0]") || !strings.Contains(invalid[1].Error(), p("broken/x.yaml")+":") {
		t.Errorf("invalid = %v, want bad.yaml's then x.yaml's error", invalid)
	}
	if len(set.Skipped) != 1 || !strings.Contains(set.Skipped[0].String(), "notes.yaml") {
		t.Errorf("skipped = %v", set.Skipped)
	}
	for _, paths := range [][]string{{p("teams"), p("empty")}, {p("nope.yaml")}} {
		if _, _, err := LoadAll(paths); err == nil {
			t.Errorf("LoadAll(%v): no error", paths)
		}
	}
}
