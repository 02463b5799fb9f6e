// Package declset is a set of declarations: the files and directories given
// to one command's -f, loaded once each, and checked together before
// Terraform runs (Check) so that two declarations never fight over a
// service, an account, a working directory or a Terraform state.
package declset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/invokerctl/invokerctl/pkg/config"
)

// Set is the declarations of one command line, in the order given (a
// directory's in name order), each file once.
type Set struct {
	Decls []*config.Declaration
	// Skipped are the YAML files of the directories given that are not
	// declarations, and the files given more than once, with the reason.
	Skipped []Skipped
}

// Skipped is a file Load left out, and why.
type Skipped struct {
	Path   string
	Reason string
}

func (s Skipped) String() string { return s.Path + ": " + s.Reason }

// NoDeclarationsError is a directory given to Load that holds no
// declaration.
type NoDeclarationsError struct {
	Dir string
	// Skipped are the YAML files of Dir that are not declarations.
	Skipped []Skipped
}

func (e *NoDeclarationsError) Error() string {
	msg := fmt.Sprintf("%s: no declaration in this directory (no *.yaml or *.yml file in it has apiVersion: %s)", e.Dir, config.APIVersion)
	for _, s := range e.Skipped {
		msg += "\n  skipped " + s.String()
	}
	return msg
}

// Load reads the declarations at paths. A path is a file, which must be a
// valid declaration (config.Load's errors, naming file, field and rule), or
// a directory, which contributes every *.yaml and *.yml file directly in it
// (not in subdirectories; hidden files excluded, as a shell's * does)
// whose top-level apiVersion is config.APIVersion, in name order; other
// YAML there is skipped and listed in Set.Skipped, and a directory without
// a declaration is a *NoDeclarationsError. A file reached twice (named
// twice, named and in a directory, or through a symbolic or hard link)
// counts once, where it was first reached.
func Load(paths []string) (*Set, error) {
	l := &loader{set: &Set{}}
	if err := l.load(paths); err != nil {
		return nil, err
	}
	return l.set, nil
}

// LoadAll is Load that reads every declaration even when some do not
// load: the set holds those that do, and invalid the errors of those that
// do not (config.Load's, one per file, in order). err is what stops the
// reading itself: a path that cannot be read, a directory without a
// declaration.
func LoadAll(paths []string) (set *Set, invalid []error, err error) {
	l := &loader{set: &Set{}, keepGoing: true}
	err = l.load(paths)
	return l.set, l.invalid, err
}

func (l *loader) load(paths []string) error {
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return err
		}
		if info.IsDir() {
			err = l.dir(p)
		} else {
			err = l.file(p, info, nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

type loader struct {
	set  *Set
	seen []seenFile
	// keepGoing collects the declarations that do not load in invalid
	// instead of stopping at the first (LoadAll).
	keepGoing bool
	invalid   []error
}

type seenFile struct {
	path string
	info os.FileInfo
}

// firstSeen is the path under which the file of info was loaded, if it was.
func (l *loader) firstSeen(info os.FileInfo) (string, bool) {
	for _, s := range l.seen {
		if os.SameFile(s.info, info) {
			return s.path, true
		}
	}
	return "", false
}

// file loads the declaration at path; data is its content when already
// read (a file found in a directory), else the file is read by config.Load.
func (l *loader) file(path string, info os.FileInfo, data []byte) error {
	if first, dup := l.firstSeen(info); dup {
		l.set.Skipped = append(l.set.Skipped, Skipped{path, "the same file as " + first + ", counted once"})
		return nil
	}
	var decl *config.Declaration
	var err error
	if data == nil {
		decl, err = config.Load(path)
	} else {
		decl, err = config.Parse(path, data)
	}
	if err != nil {
		if l.keepGoing {
			l.invalid = append(l.invalid, err)
			return nil
		}
		return err
	}
	l.seen = append(l.seen, seenFile{path, info})
	l.set.Decls = append(l.set.Decls, decl)
	return nil
}

// dir loads the declarations directly in dir.
func (l *loader) dir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var skipped []Skipped
	found := 0
	for _, e := range entries { // ReadDir sorts by name
		name := e.Name()
		if strings.HasPrefix(name, ".") || (filepath.Ext(name) != ".yaml" && filepath.Ext(name) != ".yml") {
			continue
		}
		path := filepath.Join(dir, name)
		info, err := os.Stat(path) // follows a symbolic link
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			skipped = append(skipped, Skipped{path, "not a regular file"})
			l.set.Skipped = append(l.set.Skipped, skipped[len(skipped)-1])
			continue
		}
		data, err := readFile(path)
		if err != nil {
			return err
		}
		if why := notDeclaration(data); why != "" {
			skipped = append(skipped, Skipped{path, why})
			l.set.Skipped = append(l.set.Skipped, skipped[len(skipped)-1])
			continue
		}
		found++
		if err := l.file(path, info, data); err != nil {
			return err
		}
	}
	if found == 0 {
		return &NoDeclarationsError{Dir: dir, Skipped: skipped}
	}
	return nil
}

// readFile reads at most one byte more than a declaration may hold, so
// that config.Parse reports an oversized declaration.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, config.MaxFileSize+1))
}

// apiVersionLine finds an invokerctl apiVersion in a file that is not valid
// YAML: such a file is a broken declaration, to be reported, not skipped.
var apiVersionLine = regexp.MustCompile(`(?m)^apiVersion:\s*["']?` + regexp.QuoteMeta(config.APIVersion) + `["']?\s*(#.*)?$`)

// notDeclaration says why data is not a declaration ("" when it is one:
// its first document's top-level apiVersion is config.APIVersion).
func notDeclaration(data []byte) string {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return "empty"
		}
		if apiVersionLine.Match(data) {
			return "" // config.Parse says what is wrong
		}
		return "not valid YAML (" + strings.TrimPrefix(err.Error(), "yaml: ") + ")"
	}
	top := &doc
	if top.Kind == yaml.DocumentNode && len(top.Content) > 0 {
		top = top.Content[0]
	}
	if top.Kind != yaml.MappingNode {
		return "not a declaration (not a mapping)"
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if k, v := top.Content[i], top.Content[i+1]; k.Value == "apiVersion" {
			if v.Kind == yaml.ScalarNode && v.Value == config.APIVersion {
				return ""
			}
			return fmt.Sprintf("not a declaration (apiVersion %q)", v.Value)
		}
	}
	return "not a declaration (no apiVersion)"
}

// Files lists the declarations' files, in order.
func (s *Set) Files() []string {
	out := make([]string, len(s.Decls))
	for i, d := range s.Decls {
		out[i] = d.File
	}
	return out
}
