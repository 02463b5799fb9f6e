package cli

import (
	"errors"
	"fmt"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
)

// Turning --emulator and --seed into the target every command works on.

// checkSeedFlag refuses --seed without an in-process emulator; commands call
// it before reading any file, like every usage error.
func checkSeedFlag(emulatorFlag, seed string) error {
	if seed != "" && emulatorFlag != inProcessEmulator {
		return cmdutil.Usage(errors.New("--seed needs --emulator without a URL (an in-process emulator)"))
	}
	return nil
}

// resolveTarget turns --emulator/--seed into a target, starting an
// in-process emulator for project when asked; stop (never nil) ends it.
func resolveTarget(env cmdEnv, emulatorFlag, seed, project string) (target.Target, func(), error) {
	noop := func() {}
	switch emulatorFlag {
	case "":
		return target.Google(), noop, nil
	case inProcessEmulator:
		emu, err := env.Factory.StartEmulator(emulator.Options{Project: project, SeedFile: seed})
		if err != nil {
			return target.Target{}, noop, fmt.Errorf("starting the in-process emulator: %w", err)
		}
		stop := func() { _ = emu.Close() }
		t, err := target.Emulator(emu.URL(), emu.BootstrapToken())
		if err != nil {
			stop()
			return target.Target{}, noop, err
		}
		fmt.Fprintf(env.IO.ErrOut, "Started an in-process emulator at %s; its state ends with this command.\n", emu.URL())
		return t, stop, nil
	default:
		t, err := target.FromEnv(emulatorFlag, env.Factory.Getenv)
		return t, noop, err
	}
}
