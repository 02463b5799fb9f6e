package idtoken

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStaticSources(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	aud := "https://svc-abc-uc.a.run.app"
	raw := fakeJWT(t, idClaims(aud, "ci@p.iam.gserviceaccount.com", now.Add(30*time.Minute)))

	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte(raw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_ID_TOKEN", raw)

	fromFile, err := NewTokenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fromEnv, err := NewTokenEnv("TEST_ID_TOKEN")
	if err != nil {
		t.Fatal(err)
	}
	// Read once: later changes to the file or variable do not matter.
	_ = os.Remove(file)
	t.Setenv("TEST_ID_TOKEN", "changed")

	for _, src := range []*Static{fromFile, fromEnv} {
		src := src.WithClock(func() time.Time { return now })
		t.Run(src.Describe(), func(t *testing.T) {
			tok, err := src.Token(context.Background(), aud)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Caller() != "ci@p.iam.gserviceaccount.com" || tok.Source != src.Describe() {
				t.Fatalf("token = %v", tok)
			}
			_, err = src.Token(context.Background(), "https://other.a.run.app")
			var am *AudienceMismatchError
			if !errors.As(err, &am) || !strings.Contains(err.Error(), aud) || !strings.Contains(err.Error(), "https://other.a.run.app") {
				t.Fatalf("wrong audience: err = %v", err)
			}
			late := src.WithClock(func() time.Time { return now.Add(time.Hour) })
			_, err = late.Token(context.Background(), aud)
			var ee *ExpiredTokenError
			if !errors.As(err, &ee) || !strings.Contains(err.Error(), "expired") {
				t.Fatalf("expired: err = %v", err)
			}
			assertNoToken(t, "error", err.Error(), raw)
		})
	}
}

func TestStaticConstructionErrors(t *testing.T) {
	t.Setenv("EMPTY_TOKEN", " ")
	if _, err := NewTokenEnv("EMPTY_TOKEN"); err == nil || !strings.Contains(err.Error(), "EMPTY_TOKEN") {
		t.Errorf("empty env: %v", err)
	}
	if _, err := NewTokenEnv("SURELY_UNSET_TOKEN_VARIABLE"); err == nil {
		t.Error("unset env accepted")
	}
	if _, err := NewTokenFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := NewStatic("ya29.access-token-not-an-id-token", "flag"); !errors.Is(err, ErrNotJWT) {
		t.Errorf("access token accepted as ID token: %v", err)
	}
	noAud := fakeJWT(t, map[string]any{"sub": "1"})
	if _, err := NewStatic(noAud, "flag"); err == nil || !strings.Contains(err.Error(), "aud") {
		t.Errorf("token without aud: %v", err)
	}
}

func TestSelectAudience(t *testing.T) {
	url := "https://svc-abc-uc.a.run.app"
	allowed := Allowed{URLs: []string{url, "https://svc-123.us-central1.run.app"}, Custom: []string{"my-aud"}}
	static := func(aud ...string) Source {
		s, err := NewStatic(fakeJWT(t, map[string]any{"aud": aud, "exp": time.Now().Add(time.Hour).Unix()}), "env X")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	minting := NewMetadata(MetadataOptions{})
	tests := []struct {
		name    string
		src     Source
		want    string
		allowed Allowed
		got     string
		errSub  string
	}{
		{"default is the service URL", minting, "", allowed, url, ""},
		{"custom audience", minting, "my-aud", allowed, "my-aud", ""},
		{"second url", minting, "https://svc-123.us-central1.run.app", allowed, "https://svc-123.us-central1.run.app", ""},
		{"url with trailing slash", minting, url + "/", allowed, url + "/", ""},
		{"custom audience compared exactly", minting, "my-aud/", allowed, "", `audience "my-aud/" is not one the service accepts`},
		{"unknown audience", minting, "https://evil", allowed, "", `"https://evil"`},
		{"nothing to choose", minting, "", Allowed{}, "", "no URL"},
		{"explicit token for the URL", static(url), "", allowed, url, ""},
		{"explicit token for a custom audience", static("my-aud"), "", allowed, "my-aud", ""},
		{"explicit token, cached", NewCache(static("my-aud"), CacheOptions{}), "", allowed, "my-aud", ""},
		{"explicit token prefers asked audience", static(url, "my-aud"), "my-aud", allowed, "my-aud", ""},
		{"explicit token for another service", static("https://other.a.run.app"), "", allowed, "", `has audience "https://other.a.run.app", but the service accepts only "https://svc-abc-uc.a.run.app"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SelectAudience(tc.src, tc.want, tc.allowed)
			if tc.errSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errSub) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.errSub)
				}
				return
			}
			if err != nil || got != tc.got {
				t.Fatalf("got %q, %v; want %q", got, err, tc.got)
			}
		})
	}
}
