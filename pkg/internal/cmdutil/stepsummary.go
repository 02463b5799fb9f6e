package cmdutil

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// StepSummaryEnv names the file GitHub Actions shows as a job's summary;
// commands that write a Markdown summary append it there too when it is set.
const StepSummaryEnv = "GITHUB_STEP_SUMMARY"

// AppendStepSummary renders a Markdown summary with render and appends it,
// followed by a blank line, to the file named by $GITHUB_STEP_SUMMARY. It
// does nothing when the variable is unset. The file is created 0644 when
// missing (the runner creates it; a local run may not have).
func (f *Factory) AppendStepSummary(render func(io.Writer) error) error {
	path := f.Getenv(StepSummaryEnv)
	if path == "" {
		return nil
	}
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return err
	}
	buf.WriteString("\n")
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("$%s: %w", StepSummaryEnv, err)
	}
	if _, err := file.Write(buf.Bytes()); err != nil {
		file.Close()
		return fmt.Errorf("$%s: %w", StepSummaryEnv, err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("$%s: %w", StepSummaryEnv, err)
	}
	return nil
}
