package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// aliasBomb is a small declaration whose grants repeat one anchor: the
// anchor holds members members, the list repeats it grants times.
func aliasBomb(members, grants int) string {
	var b strings.Builder
	b.WriteString("apiVersion: invokerctl/v1\nproject: demo-project\nlocation: us-central1\n")
	b.WriteString("x-members: &m\n")
	for i := range members {
		fmt.Fprintf(&b, "  - user:u%d@example.com\n", i)
	}
	b.WriteString("grants:\n  - &g\n    service: orders-api\n    members: *m\n")
	for range grants - 1 {
		b.WriteString("  - *g\n")
	}
	return b.String()
}

func TestAliasExpansionIsBounded(t *testing.T) {
	tests := []struct {
		name             string
		members, grants  int
		wantRefusedAlias bool
	}{
		// 4,000 grants of one 1,000-member anchor: 4 million members from 60 KB.
		{"alias bomb", 1000, 4000, true},
		{"just over the bound", 1000, MaxExpandedNodes / 1000, true},
		// Anchors used the way people use them are fine (the declaration
		// then fails for its own reasons, not for its aliases).
		{"ordinary reuse", 5, 3, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := aliasBomb(tc.members, tc.grants)
			_, err := Parse("bomb.yaml", []byte(src))
			if err == nil {
				t.Fatal("parsed without error")
			}
			refused := strings.Contains(err.Error(), "aliases expand the declaration to more than")
			if refused != tc.wantRefusedAlias {
				t.Fatalf("refused for its aliases = %v, want %v; error:\n%v", refused, tc.wantRefusedAlias, err)
			}
			if refused && !strings.HasPrefix(err.Error(), "bomb.yaml:1:1: ") {
				t.Fatalf("error does not name the file and position: %v", err)
			}
		})
	}
}

func TestExpandedNodes(t *testing.T) {
	tests := []struct {
		src  string
		want int
	}{
		{"a: 1", 3},                            // mapping, key, value
		{"a: &x [1, 2]\nb: *x", 1 + 4 + 1 + 4}, // the alias is a node, and stands for the 3-node list
	}
	for _, tc := range tests {
		d := &decoder{errList: errList{file: "t"}, pos: map[string]Position{}}
		root, err := d.parseYAML([]byte(tc.src))
		if err != nil {
			t.Fatal(err)
		}
		if got := expandedNodes(root, 1000); got != tc.want {
			t.Errorf("expandedNodes(%q) = %d, want %d", tc.src, got, tc.want)
		}
	}
	// A cycle (should the YAML library ever let one through) counts as too many.
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	seq.Content = []*yaml.Node{{Kind: yaml.AliasNode, Alias: seq}}
	if got := expandedNodes(seq, 1000); got <= 1000 {
		t.Errorf("a cycle counts %d nodes, want more than the limit", got)
	}
}

// A file over the size cap is refused without claiming a size it does not
// know (Load reads at most one byte past the cap).
func TestTooLargeMessage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, []byte("# "+strings.Repeat("x", 2*MaxFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil {
		t.Fatal("loaded a file over the cap")
	}
	want := fmt.Sprintf("larger than %d bytes", MaxFileSize)
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), fmt.Sprint(MaxFileSize+1)) {
		t.Fatalf("error %q should say %q and never %d", err, want, MaxFileSize+1)
	}
}

// A mistyped expectStatus is reported once, as mistyped, not again as an
// out-of-range status 0.
func TestMistypedExpectStatusReportedOnce(t *testing.T) {
	src := "apiVersion: invokerctl/v1\nproject: demo-project\nlocation: us-central1\n" +
		"grants:\n  - service: orders-api\n    members: [user:a@example.com]\n" +
		"    invoke:\n      skip: true\n      expectStatus: \"abc\"\n"
	_, err := Parse("s.yaml", []byte(src))
	if err == nil {
		t.Fatal("parsed a string expectStatus")
	}
	if n := strings.Count(err.Error(), "expectStatus"); n != 1 || !strings.Contains(err.Error(), "want an integer, got a string") {
		t.Fatalf("want exactly one expectStatus problem (mistyped), got %d:\n%v", n, err)
	}
}
