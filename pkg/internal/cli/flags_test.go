package cli

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/invoke"
	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
)

// Flag parsing of every verb, with a runF that captures the options
// instead of running anything.

// parse runs cmd on args and reports the error; the run function of cmd
// is the capturing runF given to its NewCmdX.
func parse(t *testing.T, cmd *cobra.Command, args []string) error {
	t.Helper()
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return cmd.Execute()
}

func flagFactory() *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	return &cmdutil.Factory{IOStreams: ios}
}

func TestProvisionFlags(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		want    ProvisionFlags
		wantErr string
		// confirmOnly: only apply and destroy take the args.
		confirmOnly bool
	}{
		{name: "nothing", args: nil, want: ProvisionFlags{}},
		{name: "-f", args: []string{"-f", "x.yaml"}, want: ProvisionFlags{File: "x.yaml"}},
		{name: "-f twice: File is the last (eachDeclaration reads them all)", args: []string{"-f", "x.yaml", "-f", "dir"}, want: ProvisionFlags{File: "dir"}},
		{name: "every flag", args: []string{"--file", "x.yaml", "--terraform", "/opt/tf", "--terraform-version", "1.11.0", "--workdir", "ws", "--json"},
			want: ProvisionFlags{File: "x.yaml", Terraform: "/opt/tf", TerraformVersion: "1.11.0", Workdir: "ws", JSON: true}},
		{name: "--emulator alone starts one in-process", args: []string{"-f", "x.yaml", "--emulator", "--seed", "s.yaml"},
			want: ProvisionFlags{File: "x.yaml", Emulator: inProcessEmulator, Seed: "s.yaml"}},
		{name: "--emulator=URL", args: []string{"-f", "x.yaml", "--emulator=http://127.0.0.1:8080"},
			want: ProvisionFlags{File: "x.yaml", Emulator: "http://127.0.0.1:8080"}},
		{name: "--emulator URL needs =", args: []string{"-f", "x.yaml", "--emulator", "http://127.0.0.1:8080"},
			wantErr: "write --emulator=http://127.0.0.1:8080"},
		{name: "positional argument", args: []string{"x.yaml"}, wantErr: `unexpected argument "x.yaml"`},
		{name: "unknown flag", args: []string{"--bogus"}, wantErr: "unknown flag: --bogus"},
		{name: "--auto-approve", args: []string{"-f", "x.yaml", "--auto-approve"}, want: ProvisionFlags{File: "x.yaml", AutoApprove: true}, confirmOnly: true},
	}
	verbs := []struct {
		name    string
		confirm bool
		build   func(f *cmdutil.Factory, got *ProvisionFlags) *cobra.Command
	}{
		{"plan", false, func(f *cmdutil.Factory, got *ProvisionFlags) *cobra.Command {
			return NewCmdPlan(f, func(o *PlanOptions) error { *got = o.ProvisionFlags; return ctxSet(o.cmdEnv) })
		}},
		{"apply", true, func(f *cmdutil.Factory, got *ProvisionFlags) *cobra.Command {
			return NewCmdApply(f, func(o *ApplyOptions) error { *got = o.ProvisionFlags; return ctxSet(o.cmdEnv) })
		}},
		{"destroy", true, func(f *cmdutil.Factory, got *ProvisionFlags) *cobra.Command {
			return NewCmdDestroy(f, func(o *DestroyOptions) error { *got = o.ProvisionFlags; return ctxSet(o.cmdEnv) })
		}},
	}
	for _, v := range verbs {
		for _, c := range cases {
			t.Run(v.name+"/"+c.name, func(t *testing.T) {
				var got ProvisionFlags
				err := parse(t, v.build(flagFactory(), &got), c.args)
				wantErr := c.wantErr
				if c.confirmOnly && !v.confirm {
					wantErr = "unknown flag: --auto-approve"
				}
				checkParse(t, err, wantErr, got, c.want)
			})
		}
	}
}

func TestProofFlags(t *testing.T) {
	type parsed struct {
		Target TargetFlags
		Proof  ProofFlags
	}
	defaults := ProofFlags{Format: "table", MaxWait: invoke.DefaultMaxWait, RequestTimeout: invoke.DefaultRequestTimeout}
	cases := []struct {
		name       string
		args       []string
		want       parsed
		wantErr    string
		invokeOnly bool
	}{
		{name: "defaults", args: []string{"-f", "x.yaml"}, want: parsed{TargetFlags{File: "x.yaml"}, defaults}},
		{name: "-f twice", args: []string{"-f", "x.yaml", "-f", "dir"}, want: parsed{TargetFlags{File: "dir"}, defaults}},
		{name: "--format and --emulator", args: []string{"-f", "x.yaml", "--format", "junit", "--emulator", "--seed", "s.yaml"},
			want: parsed{TargetFlags{File: "x.yaml", Emulator: inProcessEmulator, Seed: "s.yaml"}, ProofFlags{Format: "junit", MaxWait: invoke.DefaultMaxWait, RequestTimeout: invoke.DefaultRequestTimeout}}},
		{name: "repeated --credentials and --max-wait 0", args: []string{"-f", "x.yaml", "--credentials", "a=metadata", "--credentials", "*=token-env:T", "--max-wait", "0"},
			want:       parsed{TargetFlags{File: "x.yaml"}, ProofFlags{Format: "table", Credentials: []string{"a=metadata", "*=token-env:T"}, RequestTimeout: invoke.DefaultRequestTimeout}},
			invokeOnly: true},
		{name: "--max-wait 90s", args: []string{"-f", "x.yaml", "--max-wait", "90s"},
			want: parsed{TargetFlags{File: "x.yaml"}, ProofFlags{Format: "table", MaxWait: 90 * time.Second, RequestTimeout: invoke.DefaultRequestTimeout}}, invokeOnly: true},
		{name: "--request-timeout 5s", args: []string{"-f", "x.yaml", "--request-timeout", "5s"},
			want: parsed{TargetFlags{File: "x.yaml"}, ProofFlags{Format: "table", MaxWait: invoke.DefaultMaxWait, RequestTimeout: 5 * time.Second}}, invokeOnly: true},
		{name: "--max-wait not a duration", args: []string{"--max-wait", "soon"}, wantErr: `invalid argument "soon"`, invokeOnly: true},
		{name: "--emulator URL needs =", args: []string{"--emulator", "http://h:1"}, wantErr: "write --emulator=http://h:1"},
	}
	verbs := []struct {
		name   string
		invoke bool
		build  func(f *cmdutil.Factory, got *parsed) *cobra.Command
	}{
		{"verify", false, func(f *cmdutil.Factory, got *parsed) *cobra.Command {
			return NewCmdVerify(f, func(o *VerifyOptions) error { *got = parsed{o.TargetFlags, o.ProofFlags}; return ctxSet(o.cmdEnv) })
		}},
		{"invoke", true, func(f *cmdutil.Factory, got *parsed) *cobra.Command {
			return NewCmdInvoke(f, func(o *InvokeOptions) error { *got = parsed{o.TargetFlags, o.ProofFlags}; return ctxSet(o.cmdEnv) })
		}},
	}
	for _, v := range verbs {
		for _, c := range cases {
			t.Run(v.name+"/"+c.name, func(t *testing.T) {
				var got parsed
				err := parse(t, v.build(flagFactory(), &got), c.args)
				wantErr, want := c.wantErr, c.want
				if c.invokeOnly && !v.invoke {
					wantErr = "unknown flag: --"
				} else if !v.invoke {
					want.Proof.MaxWait, want.Proof.RequestTimeout = 0, 0 // verify has neither flag
				}
				checkParse(t, err, wantErr, got, want)
			})
		}
	}
}

func TestRunFlags(t *testing.T) {
	for _, c := range []struct {
		name    string
		args    []string
		want    RunOptions
		wantErr string
	}{
		{name: "defaults", args: []string{"-f", "x.yaml", "--auto-approve"},
			want: RunOptions{ProvisionFlags: ProvisionFlags{File: "x.yaml", AutoApprove: true}, ProofFlags: ProofFlags{Format: "table", MaxWait: invoke.DefaultMaxWait, RequestTimeout: invoke.DefaultRequestTimeout}}},
		{name: "both flag sets", args: []string{"-f", "x.yaml", "--emulator", "--seed", "s.yaml", "--workdir", "ws", "--format", "json", "--credentials", "a=metadata", "--max-wait", "1m"},
			want: RunOptions{ProvisionFlags: ProvisionFlags{File: "x.yaml", Emulator: inProcessEmulator, Seed: "s.yaml", Workdir: "ws"},
				ProofFlags: ProofFlags{Format: "json", Credentials: []string{"a=metadata"}, MaxWait: time.Minute, RequestTimeout: invoke.DefaultRequestTimeout}}},
		// --json is hidden but parsed, so that run can say to use --format json.
		{name: "hidden --json", args: []string{"--json"},
			want: RunOptions{ProvisionFlags: ProvisionFlags{JSON: true}, ProofFlags: ProofFlags{Format: "table", MaxWait: invoke.DefaultMaxWait, RequestTimeout: invoke.DefaultRequestTimeout}}},
		{name: "positional argument", args: []string{"x.yaml"}, wantErr: `unexpected argument "x.yaml"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got RunOptions
			cmd := NewCmdRun(flagFactory(), func(o *RunOptions) error { got = *o; return ctxSet(o.cmdEnv) })
			err := parse(t, cmd, c.args)
			got.cmdEnv = cmdEnv{}
			checkParse(t, err, c.wantErr, got, c.want)
			if c.wantErr == "" && !cmd.Flags().Lookup("json").Hidden {
				t.Error("run shows --json in its help")
			}
		})
	}
}

func TestDemoAndEmulatorServeFlags(t *testing.T) {
	var demo DemoOptions
	cmd := NewCmdDemo(flagFactory(), func(o *DemoOptions) error { demo = *o; return ctxSet(o.cmdEnv) })
	if err := parse(t, cmd, nil); err != nil {
		t.Fatal(err)
	}
	demo.cmdEnv = cmdEnv{}
	if want := (DemoOptions{PropagationDelay: 5 * time.Second, Format: "table"}); demo != want {
		t.Errorf("demo defaults %+v, want %+v", demo, want)
	}
	cmd = NewCmdDemo(flagFactory(), func(o *DemoOptions) error { demo = *o; return nil })
	if err := parse(t, cmd, []string{"--dir", "d", "--keep", "--propagation-delay", "0s", "--format", "junit", "--terraform", "/opt/tf"}); err != nil {
		t.Fatal(err)
	}
	demo.cmdEnv = cmdEnv{}
	if want := (DemoOptions{Dir: "d", Keep: true, Format: "junit", Terraform: "/opt/tf"}); demo != want {
		t.Errorf("demo flags %+v, want %+v", demo, want)
	}
	if err := parse(t, NewCmdDemo(flagFactory(), func(*DemoOptions) error { return nil }), []string{"extra"}); err == nil {
		t.Error("demo took a positional argument")
	}

	var serve EmulatorServeOptions
	cmd = NewCmdEmulatorServe(flagFactory(), func(o *EmulatorServeOptions) error { serve = *o; return ctxSet(o.cmdEnv) })
	if err := parse(t, cmd, []string{"--seed", "s.yaml", "--error-rate", "0.5", "--error-code", "429", "-v"}); err != nil {
		t.Fatal(err)
	}
	serve.cmdEnv = cmdEnv{}
	if want := (EmulatorServeOptions{Addr: "127.0.0.1:0", Seed: "s.yaml", ErrorRate: 0.5, ErrorCode: 429, Verbose: true}); serve != want {
		t.Errorf("emulator serve flags %+v, want %+v", serve, want)
	}
}

// ctxSet fails unless the command handed its context to the options.
func ctxSet(env cmdEnv) error {
	if env.Ctx == nil || env.IO == nil || env.Factory == nil {
		return cmdutil.Usagef("the options lack the context, the streams or the factory: %+v", env)
	}
	return nil
}

func checkParse(t *testing.T, err error, wantErr string, got, want any) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want one containing %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsed %+v\nwant   %+v", got, want)
	}
}
