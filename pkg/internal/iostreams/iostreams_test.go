package iostreams

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTerminalDetection(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	closed, err := os.Create(filepath.Join(t.TempDir(), "closed"))
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	for _, c := range []struct {
		name string
		f    *os.File
		want bool
	}{
		{"pipe read end", r, false},
		{"pipe write end", w, false},
		{"regular file", file, false},
		{"closed file", closed, false},
		{"/dev/null (a character device)", devNull, true},
	} {
		if got := isTerminal(c.f); got != c.want {
			t.Errorf("isTerminal(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestTestStreamsAreNotTerminalsUntilSaid(t *testing.T) {
	ios, in, out, errOut := Test()
	if ios.IsStdinTTY() || ios.IsStdoutTTY() {
		t.Fatal("test streams claim a terminal")
	}
	if ios.In != in || ios.Out != out || ios.ErrOut != errOut {
		t.Fatal("test streams are not the returned buffers")
	}
	ios.SetStdinTTY(true)
	if !ios.IsStdinTTY() || ios.IsStdoutTTY() {
		t.Errorf("SetStdinTTY(true): stdin %v, stdout %v", ios.IsStdinTTY(), ios.IsStdoutTTY())
	}
	ios.SetStdoutTTY(true)
	ios.SetStdinTTY(false)
	if ios.IsStdinTTY() || !ios.IsStdoutTTY() {
		t.Errorf("SetStdoutTTY(true), SetStdinTTY(false): stdin %v, stdout %v", ios.IsStdinTTY(), ios.IsStdoutTTY())
	}
}
