package config

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in a declaration: where, which field, what rule.
type FieldError struct {
	File   string
	Line   int
	Column int
	// Path is the field path, e.g. "grants[1].members[0]"; empty for
	// problems with the document as a whole.
	Path    string
	Message string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ValidationError lists every problem found in a declaration, in file order.
// Callers branch on it with errors.As.
type ValidationError struct {
	File   string
	Errors []*FieldError
}

func (e *ValidationError) Error() string {
	lines := make([]string, 0, len(e.Errors)+1)
	if len(e.Errors) > 1 {
		lines = append(lines, fmt.Sprintf("%s: %d problems in the declaration:", e.File, len(e.Errors)))
	}
	for _, fe := range e.Errors {
		lines = append(lines, fe.Error())
	}
	return strings.Join(lines, "\n")
}

// errList collects field errors while decoding and validating.
type errList struct {
	file string
	errs []*FieldError
}

// reported says whether a problem was already recorded for path, so a
// mistyped field is not reported again as missing.
func (l *errList) reported(path string) bool {
	for _, e := range l.errs {
		if e.Path == path {
			return true
		}
	}
	return false
}

func (l *errList) add(pos Position, path, format string, args ...any) {
	l.errs = append(l.errs, &FieldError{File: l.file, Line: pos.Line, Column: pos.Column, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (l *errList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	sort.SliceStable(l.errs, func(i, j int) bool {
		a, b := l.errs[i], l.errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return &ValidationError{File: l.file, Errors: l.errs}
}
