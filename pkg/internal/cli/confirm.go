package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
)

// The y/N confirmation of apply, destroy and run.

// ErrNotConfirmed is returned when apply or destroy was not confirmed.
var ErrNotConfirmed = errors.New("not confirmed: nothing was changed")

// errNothingChanged is what an interrupted confirmation or declaration
// read did.
var errNothingChanged = errors.New("nothing was changed")

// readAnswer reads one line of in, or stops waiting when ctx is cancelled.
func readAnswer(ctx context.Context, in io.Reader) (string, error) {
	type answer struct {
		line string
		err  error
	}
	a, err := cmdutil.Interruptible(ctx, "waiting for confirmation", func() (answer, error) {
		line, err := bufio.NewReader(in).ReadString('\n')
		return answer{line, err}, nil
	}, nil)
	if err != nil {
		return "", err
	}
	return a.line, a.err
}

// errNoTerminal is returned when confirmation is needed but cannot be asked.
var errNoTerminal = errors.New("refusing to change anything without confirmation: standard input is not a terminal; pass --auto-approve")

// needConfirmation fails fast, before anything runs, when a change would
// have to be confirmed and standard input is not a terminal: a CI job
// without --auto-approve fails at once instead of after a plan.
func needConfirmation(env cmdEnv, o *ProvisionFlags) error {
	if o.File != "" && !o.AutoApprove && !env.IO.IsStdinTTY() {
		return errNoTerminal
	}
	return nil
}

// humanOut is where prompts and summaries go: stdout, or stderr when stdout
// carries JSON or a report.
func humanOut(env cmdEnv, o *ProvisionFlags) io.Writer {
	if o.JSON || o.humanToStderr {
		return env.IO.ErrOut
	}
	return env.IO.Out
}

// confirm asks a y/N question on in; only "y" or "yes" confirms, and the
// end of input declines. Cancelling ctx (SIGINT, SIGTERM) ends the wait
// for an answer with an *cmdutil.InterruptedError: nothing was changed.
func confirm(ctx context.Context, in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprintf(out, "%s? Only 'y' or 'yes' confirms. [y/N] ", question)
	line, err := readAnswer(ctx, in)
	var ie *cmdutil.InterruptedError
	if errors.As(err, &ie) {
		fmt.Fprintln(out)
		ie.Err = errNothingChanged
		return false, ie
	}
	if err != nil && line == "" {
		if errors.Is(err, io.EOF) {
			fmt.Fprintln(out)
			return false, nil
		}
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
