package audit_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/audittest"
)

// The README's findings table lists every rule with its severity and fix.
func TestReadmeFindingsTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(audittest.Example(".")), "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, r := range audit.Rules() {
		row := fmt.Sprintf("| %s `%s` | %s | %s | %s |", r.ID, r.Name, r.Severity, strings.ReplaceAll(r.What, "|", `\|`), strings.ReplaceAll(r.Fix, "|", `\|`))
		if !strings.Contains(readme, row) {
			t.Errorf("README.md lacks the row\n%s", row)
		}
	}
}
