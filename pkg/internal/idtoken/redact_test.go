package idtoken

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRedact(t *testing.T) {
	jwt := fakeJWT(t, idClaims("https://svc.a.run.app", "sa@p.iam.gserviceaccount.com", time.Now()))
	tests := []struct {
		name, in, want string
	}{
		{"bare jwt", "token " + jwt + " here", "token [REDACTED] here"},
		{"jwt in json", `{"id_token":"` + jwt + `"}`, `{"id_token":"[REDACTED]"}`},
		{"jwt in query", "https://x/?assertion=" + jwt + "&a=b", "https://x/?assertion=[REDACTED]&a=b"},
		{"unsigned jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "[REDACTED]"},
		{"padded segments", "eyJhbGciOiJub25lIn0=.eyJzdWIiOiJ4In0=.c2ln", "[REDACTED]"},
		{"bearer header", "Authorization: Bearer opaque-secret-123", "Authorization: Bearer [REDACTED]"},
		{"bearer jwt", "Authorization: Bearer " + jwt, "Authorization: Bearer [REDACTED]"},
		{"access token", "got ya29.a0AfB_byC-xyz.more", "got [REDACTED]"},
		{"two tokens", jwt + " and " + jwt, "[REDACTED] and [REDACTED]"},
		{"nothing secret", "https://svc-abc-uc.a.run.app/hello 403 sa@p.iam.gserviceaccount.com", "https://svc-abc-uc.a.run.app/hello 403 sa@p.iam.gserviceaccount.com"},
		{"already redacted", "Bearer [REDACTED]", "Bearer [REDACTED]"},
		{"bearer in json", `{"h":"Bearer abc.def="}`, `{"h":"Bearer [REDACTED]"}`},
		{"challenge params kept", `WWW-Authenticate: Bearer error="invalid_token", Bearer realm="x"`, `WWW-Authenticate: Bearer error="invalid_token", Bearer realm="x"`},
		{"bearer case-insensitive", "authorization: bearer s3cr3t", "authorization: bearer [REDACTED]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Redact(tc.in); got != tc.want {
				t.Fatalf("Redact(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

type codeErr struct{ code int }

func (e *codeErr) Error() string { return fmt.Sprintf("code %d", e.code) }

func TestRedactError(t *testing.T) {
	jwt := fakeJWT(t, idClaims("a", "e", time.Now()))
	base := &codeErr{401}
	err := fmt.Errorf("call with %s failed: %w: %w", jwt, base, fs.ErrPermission)
	r := RedactError(err)
	for _, s := range []string{r.Error(), fmt.Sprintf("%+v", r), fmt.Sprintf("%#v", r), fmt.Sprint(r)} {
		assertNoToken(t, "redacted error", s, jwt)
	}
	if !strings.Contains(r.Error(), "code 401") {
		t.Fatalf("lost the message: %v", r)
	}
	var ce *codeErr
	if !errors.As(r, &ce) || ce.code != 401 || !errors.Is(r, fs.ErrPermission) {
		t.Fatal("redaction broke errors.As/Is")
	}
	if RedactError(nil) != nil {
		t.Fatal("nil should stay nil")
	}
	plain := errors.New("nothing to hide")
	if RedactError(plain) != plain {
		t.Fatal("a clean error should be returned as is")
	}
	if RedactError(r) != r {
		t.Fatal("redacting twice should not wrap again")
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

func TestRedactingHandler(t *testing.T) {
	jwt := fakeJWT(t, idClaims("a", "e", time.Now()))
	var buf bytes.Buffer
	log := slog.New(RedactingHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log = log.With("preset", "Bearer "+jwt).WithGroup("g")
	log.Debug("response body "+jwt,
		"s", jwt,
		"err", fmt.Errorf("wrapped %s", jwt),
		"str", stringer("x"+jwt),
		"bytes", []byte(jwt),
		"any", map[string]string{"k": jwt},
		slog.Group("nested", "deep", jwt),
		"n", 3)
	out := buf.String()
	assertNoToken(t, "log", out, jwt)
	for _, want := range []string{`"n":3`, `"deep":"[REDACTED]"`, `"preset":"Bearer [REDACTED]"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s: %s", want, out)
		}
	}
}
