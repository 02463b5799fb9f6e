// Package cmdutil holds what every invokerctl command is given: the Factory
// (streams, environment, emulator start, provider executable, clock) and the
// typed errors that carry a command's exit code.
package cmdutil

import (
	"os"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/clock"
	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
)

// Factory is the outside world of the commands. New returns the real one;
// tests build their own with buffers, an environment of their choosing, an
// emulator they can inspect and a fake clock.
type Factory struct {
	IOStreams *iostreams.IOStreams
	// Getenv reads one environment variable (the emulator token, the
	// provider's sleep scale).
	Getenv func(string) string
	// Environ is the base environment Terraform runs with.
	Environ func() []string
	// StartEmulator starts the in-process emulator of --emulator without a
	// URL; the caller closes it.
	StartEmulator func(emulator.Options) (*emulator.Emulator, error)
	// ProviderExecutable is the binary that serves the offline provider;
	// "" means this executable.
	ProviderExecutable string
	// Clock paces invoke's waits for IAM propagation.
	Clock clock.Clock
}

// New returns the factory of the running process: its streams and
// environment, the real emulator and the wall clock.
func New() *Factory {
	return &Factory{
		IOStreams:     iostreams.System(),
		Getenv:        os.Getenv,
		Environ:       os.Environ,
		StartEmulator: emulator.New,
		Clock:         clock.Real,
	}
}
