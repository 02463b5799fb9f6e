package tfprovider

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tfprotov5/tf5server"
)

// Version is the hashicorp/google release whose schema and behaviour this
// provider reproduces.
const Version = "8.0.0"

// ProviderAddress is the registry address the provider serves as.
const ProviderAddress = "registry.terraform.io/hashicorp/google"

// ExecutableName is the file name Terraform expects for this version.
const ExecutableName = "terraform-provider-google_v" + Version

// Serve runs the provider as a Terraform plugin (protocol v5) until
// Terraform stops it. The calling executable must have been started by
// Terraform.
func Serve(ctx context.Context) error {
	p, err := newProvider(configOptions{})
	if err != nil {
		return err
	}
	return tf5server.Serve(ProviderAddress, func() tfprotov5.ProviderServer { return p })
}

// InstallMirror lays out an unpacked filesystem mirror holding executable
// as this provider:
//
//	<mirrorDir>/registry.terraform.io/hashicorp/google/<Version>/<os>_<arch>/terraform-provider-google_v<Version>
//
// It hard-links when it can and copies otherwise; the result is mode 0755.
func InstallMirror(mirrorDir, executable string) error {
	dir := filepath.Join(mirrorDir, "registry.terraform.io", "hashicorp", "google", Version, runtime.GOOS+"_"+runtime.GOARCH)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating provider mirror: %w", err)
	}
	dst := filepath.Join(dir, ExecutableName)
	if err := os.Remove(dst); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("replacing %s: %w", dst, err)
	}
	if err := os.Link(executable, dst); err == nil {
		if fi, err := os.Stat(dst); err == nil && fi.Mode().Perm()&0o111 != 0 {
			return nil
		}
		// A hard link shares the mode; fall back to a copy rather than
		// changing the original's permissions.
		if err := os.Remove(dst); err != nil {
			return err
		}
	}
	src, err := os.Open(executable)
	if err != nil {
		return fmt.Errorf("installing provider: %w", err)
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("installing provider: %w", err)
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return fmt.Errorf("installing provider: %w", err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, 0o755)
}

// CLIConfig returns a Terraform CLI configuration that installs
// hashicorp/google from the filesystem mirror at mirrorDir and every other
// provider directly. Write it to a file and point TF_CLI_CONFIG_FILE at it.
func CLIConfig(mirrorDir string) string {
	abs, err := filepath.Abs(mirrorDir)
	if err != nil {
		abs = mirrorDir
	}
	return fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %s
    include = ["registry.terraform.io/hashicorp/google"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/google"]
  }
}
`, hclString(abs))
}

// hclString quotes s as an HCL string literal: Go quoting plus escaped
// template sequences.
func hclString(s string) string {
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q, "${", "$${")
	return strings.ReplaceAll(q, "%{", "%%{")
}
