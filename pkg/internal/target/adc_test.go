package target

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEmulatorWithoutAnyCredentials: no emulator token and no Application
// Default Credentials is one error naming both ways to authenticate.
func TestEmulatorWithoutAnyCredentials(t *testing.T) {
	home := t.TempDir() // no gcloud application-default file
	t.Setenv("HOME", home)
	t.Setenv("CLOUDSDK_CONFIG", filepath.Join(home, "gcloud"))
	t.Setenv("GCE_METADATA_HOST", "")
	t.Setenv(CredentialsEnv, "")
	notJSON := filepath.Join(t.TempDir(), "creds")
	if err := os.WriteFile(notJSON, []byte("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"nothing at all", map[string]string{}, "could not find default credentials"},
		{"a credentials file that is none", map[string]string{CredentialsEnv: notJSON}, "is not a Google credentials file"},
		{"a missing credentials file", map[string]string{CredentialsEnv: notJSON + ".missing"}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := FromEnv("http://127.0.0.1:9", func(k string) string { return tt.env[k] })
			var nc *NoCredentialsError
			if !errors.As(err, &nc) {
				t.Fatalf("want a *NoCredentialsError, got %v", err)
			}
			msg := err.Error()
			for _, w := range []string{TokenEnv, CredentialsEnv, "http://127.0.0.1:9", tt.want} {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q: %s", w, msg)
				}
			}
			if strings.Contains(msg, "eyJ") {
				t.Errorf("error shows the file's token text: %s", msg)
			}
			t.Logf("failed in %s", time.Since(start).Round(time.Millisecond))
		})
	}
}
