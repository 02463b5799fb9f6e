package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
)

// Only "y" or "yes" (any case, surrounding space) confirms; anything else,
// or the end of input, declines; a read error is returned.
func TestConfirm(t *testing.T) {
	readErr := errors.New("read failed")
	for _, c := range []struct {
		name  string
		input string
		err   error
		want  bool
	}{
		{"y", "y\n", nil, true},
		{"yes", "yes\n", nil, true},
		{"upper case and space", "  YeS \n", nil, true},
		{"yes without a newline", "yes", nil, true},
		{"n", "n\n", nil, false},
		{"empty line", "\n", nil, false},
		{"other word", "sure\n", nil, false},
		{"end of input", "", nil, false},
		{"read error", "", readErr, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var in interface{ Read([]byte) (int, error) } = strings.NewReader(c.input)
			if c.err != nil {
				in = iotest.ErrReader(c.err)
			}
			var out bytes.Buffer
			got, err := confirm(context.Background(), in, &out, "Apply these changes")
			if got != c.want || !errors.Is(err, c.err) {
				t.Errorf("confirm = %v, %v; want %v, %v", got, err, c.want, c.err)
			}
			if !strings.HasPrefix(out.String(), "Apply these changes? Only 'y' or 'yes' confirms. [y/N] ") {
				t.Errorf("prompt %q", out.String())
			}
		})
	}
}

// Without a terminal and without --auto-approve, apply, destroy and run
// refuse before anything runs; with either they go on.
func TestNeedConfirmation(t *testing.T) {
	for _, c := range []struct {
		name        string
		file        string
		autoApprove bool
		tty         bool
		want        error
	}{
		{"no terminal", "x.yaml", false, false, errNoTerminal},
		{"terminal", "x.yaml", false, true, nil},
		{"auto-approve", "x.yaml", true, false, nil},
		{"no file: the usage error comes first", "", false, false, nil},
	} {
		ios, _, _, _ := iostreams.Test()
		ios.SetStdinTTY(c.tty)
		env := cmdEnv{IO: ios, Factory: testFactory(t, ios, inProcess{})}
		if err := needConfirmation(env, &ProvisionFlags{File: c.file, AutoApprove: c.autoApprove}); err != c.want {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
