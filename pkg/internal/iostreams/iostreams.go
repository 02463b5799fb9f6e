// Package iostreams carries the standard streams a command uses and whether
// they are terminals, so tests can swap them for buffers and say which of
// them stands for a terminal (the habit gh's cli/cli uses).
package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams is the set of streams a command reads and writes.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool
}

// IsStdinTTY reports whether In is an interactive terminal: only then can a
// command ask a question (apply's and destroy's confirmation).
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether Out is an interactive terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether ErrOut is an interactive terminal: only then
// is progress drawn on it.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetStderrTTY says whether ErrOut stands for a terminal (tests).
func (s *IOStreams) SetStderrTTY(tty bool) { s.stderrTTY = tty }

// SetStdinTTY says whether In stands for a terminal (tests).
func (s *IOStreams) SetStdinTTY(tty bool) { s.stdinTTY = tty }

// SetStdoutTTY says whether Out stands for a terminal (tests).
func (s *IOStreams) SetStdoutTTY(tty bool) { s.stdoutTTY = tty }

// System returns the process's own streams, each detected as a terminal
// or not.
func System() *IOStreams {
	return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		stdinTTY: isTerminal(os.Stdin), stdoutTTY: isTerminal(os.Stdout), stderrTTY: isTerminal(os.Stderr)}
}

// Test returns streams backed by buffers (input, output, error output),
// none of them a terminal.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// isTerminal reports whether f is an interactive terminal (a character
// device such as /dev/null is not).
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
