package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestAppendStepSummary(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "summary.md")
	if err := os.WriteFile(path, []byte("# earlier step\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     string
		render  func(io.Writer) error
		want    string
		wantErr bool
	}{
		{name: "unset does nothing", env: "", render: func(w io.Writer) error { t.Error("rendered without $GITHUB_STEP_SUMMARY"); return nil }, want: "# earlier step\n"},
		{name: "appends", env: path, render: func(w io.Writer) error { _, err := fmt.Fprint(w, "## plan\n"); return err }, want: "# earlier step\n## plan\n\n"},
		{name: "render error writes nothing", env: path, render: func(io.Writer) error { return errors.New("boom") }, want: "# earlier step\n## plan\n\n", wantErr: true},
		{name: "unwritable path", env: filepath.Join(dir, "missing", "x.md"), render: func(w io.Writer) error { return nil }, want: "# earlier step\n## plan\n\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &Factory{Getenv: func(k string) string {
				if k == StepSummaryEnv {
					return tc.env
				}
				return ""
			}}
			err := f.AppendStepSummary(tc.render)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tc.want {
				t.Errorf("file = %q, want %q", got, tc.want)
			}
		})
	}
}
