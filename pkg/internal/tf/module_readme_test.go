package tf

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

const moduleSourceDir = "../../../terraform/modules/cloud-run-invokers"

// tfVariable is a variable block as the README's Inputs table shows it.
type tfVariable struct {
	name, description string
	typ               cty.Type
	typeDefaults      *typeexpr.Defaults
	typeSource        string
	// def is nil for a required variable.
	def *cty.Value
}

// tfOutput is an output block as the README's Outputs table shows it.
type tfOutput struct{ name, description string }

// readDeclarations parses the variable and output blocks of every .tf file
// in dir.
func readDeclarations(t *testing.T, dir string) (vars []tfVariable, outs []tfOutput) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .tf files in %s (%v)", dir, err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, diags := hclsyntax.ParseConfig(src, f, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			switch b.Type {
			case "variable":
				v := tfVariable{name: b.Labels[0], description: stringAttr(t, b, "description")}
				if a, ok := b.Body.Attributes["type"]; ok {
					v.typ, v.typeDefaults, diags = typeexpr.TypeConstraintWithDefaults(a.Expr)
					if diags.HasErrors() {
						t.Fatalf("%s: type of %s: %v", f, v.name, diags)
					}
					v.typeSource = oneLine(string(a.Expr.Range().SliceBytes(src)))
				}
				if a, ok := b.Body.Attributes["default"]; ok {
					val, diags := a.Expr.Value(nil)
					if diags.HasErrors() {
						t.Fatalf("%s: default of %s: %v", f, v.name, diags)
					}
					v.def = &val
				}
				vars = append(vars, v)
			case "output":
				outs = append(outs, tfOutput{name: b.Labels[0], description: stringAttr(t, b, "description")})
			}
		}
	}
	return vars, outs
}

func stringAttr(t *testing.T, b *hclsyntax.Block, name string) string {
	t.Helper()
	a, ok := b.Body.Attributes[name]
	if !ok {
		t.Errorf("%s %q has no %s", b.Type, b.Labels[0], name)
		return ""
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || v.Type() != cty.String {
		t.Fatalf("%s %q: %s is not a string: %v", b.Type, b.Labels[0], name, diags)
	}
	return v.AsString()
}

var spaces = regexp.MustCompile(`\s+`)

// oneLine collapses runs of white space, as a table cell shows a
// multi-line description or type.
func oneLine(s string) string { return strings.TrimSpace(spaces.ReplaceAllString(s, " ")) }

// readmeTable returns the header and rows of the first table in the
// section of readme headed "## heading", cells trimmed and `\|` unescaped.
func readmeTable(t *testing.T, readme, heading string) (header []string, rows [][]string) {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## "+heading+"\n")
	if !ok {
		t.Fatalf("README has no %q section", "## "+heading)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for _, line := range strings.Split(section, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if header != nil {
				break
			}
			continue
		}
		cells := splitRow(strings.Trim(line, "|"))
		switch {
		case header == nil:
			header = cells
		case strings.Trim(strings.Join(cells, ""), ":- ") == "":
			// the delimiter row
		default:
			rows = append(rows, cells)
		}
	}
	if header == nil {
		t.Fatalf("README section %q has no table", heading)
	}
	return header, rows
}

// splitRow splits a table row on the pipes that are not escaped.
func splitRow(row string) []string {
	var cells []string
	var cell strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row) && row[i+1] == '|':
			cell.WriteByte('|')
			i++
		case row[i] == '|':
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
		default:
			cell.WriteByte(row[i])
		}
	}
	return append(cells, strings.TrimSpace(cell.String()))
}

// codeCell returns the content of a cell that is one `code span`.
func codeCell(cell string) (string, bool) {
	if len(cell) < 2 || cell[0] != '`' || cell[len(cell)-1] != '`' || strings.Count(cell, "`") != 2 {
		return "", false
	}
	return cell[1 : len(cell)-1], true
}

// defaultsString renders a type's optional-attribute defaults for comparison.
func defaultsString(d *typeexpr.Defaults) string {
	if d == nil {
		return ""
	}
	var parts []string
	for k, v := range d.DefaultValues {
		parts = append(parts, fmt.Sprintf("%s=%#v", k, v))
	}
	for k, c := range d.Children {
		parts = append(parts, fmt.Sprintf("%v:{%s}", k, defaultsString(c)))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// diagText is ": DIAGNOSTICS" when diags hold an error, else "".
func diagText(diags hcl.Diagnostics) string {
	if !diags.HasErrors() {
		return ""
	}
	return ": " + diags.Error()
}

// checkInputRow compares one README Inputs row (name, description, type,
// default, required) with the variable block.
func checkInputRow(t *testing.T, row []string, v tfVariable) {
	t.Helper()
	if got := row[1]; got != oneLine(v.description) {
		t.Errorf("input %s: README description %q, variables.tf %q", v.name, got, oneLine(v.description))
	}
	typeText, ok := codeCell(row[2])
	if !ok {
		t.Errorf("input %s: type cell %q is not one `code` span", v.name, row[2])
	} else {
		expr, diags := hclsyntax.ParseExpression([]byte(typeText), "README type", hcl.InitialPos)
		var ty cty.Type
		var defaults *typeexpr.Defaults
		if !diags.HasErrors() {
			ty, defaults, diags = typeexpr.TypeConstraintWithDefaults(expr)
		}
		if diags.HasErrors() || !ty.Equals(v.typ) || defaultsString(defaults) != defaultsString(v.typeDefaults) {
			t.Errorf("input %s: README type `%s`, variables.tf `%s`%s", v.name, typeText, v.typeSource, diagText(diags))
		}
	}
	wantRequired := "no"
	if v.def == nil {
		wantRequired = "yes"
		if row[3] != "n/a" {
			t.Errorf("input %s is required: README default %q, want n/a", v.name, row[3])
		}
	} else if text, ok := codeCell(row[3]); !ok {
		t.Errorf("input %s: default cell %q is not one `code` span", v.name, row[3])
	} else {
		expr, diags := hclsyntax.ParseExpression([]byte(text), "README default", hcl.InitialPos)
		var got cty.Value
		if !diags.HasErrors() {
			got, diags = expr.Value(nil)
		}
		if diags.HasErrors() || !got.RawEquals(*v.def) {
			t.Errorf("input %s: README default `%s`, variables.tf %#v%s", v.name, text, *v.def, diagText(diags))
		}
	}
	if row[4] != wantRequired {
		t.Errorf("input %s: README required %q, want %q", v.name, row[4], wantRequired)
	}
}

// The README of the module and of every example documents its inputs and
// outputs in the terraform-docs layout (rows sorted by name), and each row
// says what the .tf files say: name, description, type, default, required.
func TestReadmeTablesMatchDeclarations(t *testing.T) {
	dirs := []string{moduleSourceDir}
	examples, err := filepath.Glob(filepath.Join(examplesDir, "*", "main.tf"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples (%v)", err)
	}
	for _, e := range examples {
		dirs = append(dirs, filepath.Dir(e))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, "README.md"))
			if err != nil {
				t.Fatal(err)
			}
			readme := string(b)
			vars, outs := readDeclarations(t, dir)

			header, rows := readmeTable(t, readme, "Inputs")
			if want := []string{"Name", "Description", "Type", "Default", "Required"}; !slices.Equal(header, want) {
				t.Fatalf("Inputs header %q, want %q", header, want)
			}
			byName := map[string]tfVariable{}
			var wantNames []string
			for _, v := range vars {
				byName[v.name] = v
				wantNames = append(wantNames, v.name)
			}
			sort.Strings(wantNames)
			var gotNames []string
			for _, row := range rows {
				if len(row) != len(header) {
					t.Errorf("Inputs row %q has %d cells, want %d", row, len(row), len(header))
					continue
				}
				gotNames = append(gotNames, row[0])
				if v, ok := byName[row[0]]; ok {
					checkInputRow(t, row, v)
				}
			}
			if !slices.Equal(gotNames, wantNames) {
				t.Errorf("Inputs rows %q, want %q (the variables, sorted by name)", gotNames, wantNames)
			}

			header, rows = readmeTable(t, readme, "Outputs")
			if want := []string{"Name", "Description"}; !slices.Equal(header, want) {
				t.Fatalf("Outputs header %q, want %q", header, want)
			}
			var got, want []string
			for _, row := range rows {
				got = append(got, strings.Join(row, " | "))
			}
			for _, o := range outs {
				want = append(want, o.name+" | "+oneLine(o.description))
			}
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("Outputs rows:\n  %s\nwant (outputs.tf, sorted by name):\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

// The module README's usage snippet (its first ```hcl block) is a working,
// terraform fmt clean root: next to the module, with the provider from the
// offline mirror, terraform init and terraform validate pass without a
// warning.
func TestReadmeUsageValidates(t *testing.T) {
	o := newOfflineTerraform(t)
	b, err := os.ReadFile(filepath.Join(moduleSourceDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, snippet, ok := strings.Cut(string(b), "\n```hcl\n")
	if !ok {
		t.Fatal("the module README has no ```hcl block")
	}
	snippet, _, ok = strings.Cut(snippet, "\n```\n")
	if !ok || !strings.Contains(snippet, `module "`) {
		t.Fatalf("the module README's hcl block is not closed or calls no module:\n%s", snippet)
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "main.tf"), []byte(snippet+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var log bytes.Buffer
	tf := o.initRoot(t, ctx, root, ".", o.env, &log)
	if formatted, err := tf.FormatString(ctx, snippet+"\n"); err != nil || formatted != snippet+"\n" {
		t.Errorf("the README usage is not terraform fmt clean (%v); terraform fmt makes it:\n%s", err, formatted)
	}
	res, err := tf.Validate(ctx)
	if err != nil {
		t.Fatalf("terraform validate: %v\n%s", err, log.String())
	}
	if !res.Valid || res.ErrorCount+res.WarningCount > 0 {
		for _, d := range res.Diagnostics {
			t.Errorf("README usage: %s: %s: %s", d.Severity, d.Summary, d.Detail)
		}
	}
}
