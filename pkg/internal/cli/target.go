package cli

import (
	"errors"
	"fmt"

	"github.com/invokerctl/invokerctl/pkg/config"
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

// loadDeclaration reads and validates the declaration at file, or stops
// waiting for it (a FIFO, a pipe) when the command is interrupted.
func loadDeclaration(env cmdEnv, file string) (*config.Declaration, error) {
	d, err := cmdutil.Interruptible(env.Ctx, "reading "+file, func() (*config.Declaration, error) { return config.Load(file) }, nil)
	return d, nothingChanged(err)
}

// loadSeed reads an emulator seed file, or stops waiting for it when the
// command is interrupted.
func loadSeed(env cmdEnv, file string) (*emulator.Seed, error) {
	s, err := cmdutil.Interruptible(env.Ctx, "reading the seed "+file, func() (*emulator.Seed, error) { return emulator.LoadSeed(file) }, nil)
	return s, nothingChanged(err)
}

// startEmulator starts the factory's emulator with eo, or stops waiting
// for it (it reads its --state file) when the command is interrupted; an
// emulator that starts after that is closed.
func startEmulator(env cmdEnv, eo emulator.Options) (*emulator.Emulator, error) {
	emu, err := cmdutil.Interruptible(env.Ctx, "starting the emulator", func() (*emulator.Emulator, error) { return env.Factory.StartEmulator(eo) },
		func(emu *emulator.Emulator, err error) {
			if err == nil {
				_ = emu.Close()
			}
		})
	return emu, nothingChanged(err)
}

// nothingChanged adds "nothing was changed" to an interruption before
// anything ran.
func nothingChanged(err error) error {
	var ie *cmdutil.InterruptedError
	if errors.As(err, &ie) && ie.Err == nil {
		ie.Err = errNothingChanged
	}
	return err
}

// resolveTarget turns --emulator/--seed into a target, starting an
// in-process emulator for project when asked; stop (never nil) ends it.
func resolveTarget(env cmdEnv, emulatorFlag, seed, project string) (target.Target, func(), error) {
	noop := func() {}
	switch emulatorFlag {
	case "":
		// Like Google's own emulator variables (PUBSUB_EMULATOR_HOST...),
		// a set $INVOKERCTL_EMULATOR_URL points the command at the
		// emulator, so that a pipeline's steps run unchanged against it.
		if u := env.Factory.Getenv(target.URLEnv); u != "" {
			t, err := target.FromEnvContext(env.Ctx, u, env.Factory.Getenv)
			if err == nil {
				fmt.Fprintf(env.IO.ErrOut, "Note: $%s is set: using the emulator at %s, not Google Cloud.\n", target.URLEnv, u)
			}
			return t, noop, err
		}
		return target.Google(), noop, nil
	case inProcessEmulator:
		eo := emulator.Options{Project: project}
		if seed != "" {
			s, err := loadSeed(env, seed)
			if err != nil {
				return target.Target{}, noop, err
			}
			eo.Seed = s
		}
		emu, err := startEmulator(env, eo)
		if cmdutil.IsInterrupted(err) {
			return target.Target{}, noop, err
		}
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
		t, err := target.FromEnvContext(env.Ctx, emulatorFlag, env.Factory.Getenv)
		return t, noop, err
	}
}
