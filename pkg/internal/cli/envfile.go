package cli

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// The private file `emulator serve --env-file` writes the export lines to:
// they hold the emulator's owner token, so the file is readable by its
// owner only from the moment it exists.

// errEnvFileUnsafe is wrapped by every refusal to write an --env-file.
var errEnvFileUnsafe = errors.New("refusing to write the environment file")

// writeEnvFile writes data to path with mode 0600. The file is created
// 0600 (whatever the umask, it is never more open); an existing file is
// narrowed to 0600 before it is truncated and written. It refuses a
// symbolic link (it never follows one), anything but a regular file, a
// file with other hard links, and a file it cannot make 0600 (one it does
// not own): then nothing is written.
func writeEnvFile(path string, data []byte) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return fmt.Errorf("%w %s: it is a symbolic link", errEnvFileUnsafe, path)
		}
		if errors.Is(err, syscall.ENXIO) {
			return fmt.Errorf("%w %s: it is not a regular file", errEnvFileUnsafe, path)
		}
		return fmt.Errorf("--env-file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("--env-file: %w", cerr)
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("--env-file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w %s: it is not a regular file", errEnvFileUnsafe, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return fmt.Errorf("%w %s: it has %d hard links", errEnvFileUnsafe, path, st.Nlink)
	}
	if fi.Mode().Perm() != 0o600 {
		if err := f.Chmod(0o600); err != nil {
			return fmt.Errorf("%w %s: cannot make it private (mode 0600): %w", errEnvFileUnsafe, path, err)
		}
	}
	if fi, err = f.Stat(); err != nil || fi.Mode().Perm() != 0o600 {
		return fmt.Errorf("%w %s: it is not private (mode 0600) after chmod", errEnvFileUnsafe, path)
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("--env-file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("--env-file: %w", err)
	}
	return nil
}
