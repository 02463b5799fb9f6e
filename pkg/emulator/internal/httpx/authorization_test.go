package httpx

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseBearer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, header, want string
		err                error
	}{
		{"canonical", "Bearer ya29.abc-_~+/", "ya29.abc-_~+/", nil},
		{"lower-case scheme", "bearer tok", "tok", nil},
		{"upper-case scheme", "BEARER tok", "tok", nil},
		{"mixed-case scheme", "bEaReR tok", "tok", nil},
		{"several spaces", "Bearer    tok", "tok", nil},
		{"surrounding blanks", " \tBearer tok \t", "tok", nil},
		{"token68 padding", "Bearer dG9r==", "dG9r==", nil},
		{"a JWT", "Bearer aGVh.cGF5.c2ln", "aGVh.cGF5.c2ln", nil},
		{"absent", "", "", ErrNoCredentials},
		{"blank", " \t ", "", ErrNoCredentials},
		{"bare token", "emulator-owner-0123abcd", "", ErrNotBearer},
		{"bare JWT", "aGVh.cGF5.c2ln", "", ErrNotBearer},
		{"other scheme", "Basic dXNlcjpwYXNz", "", ErrNotBearer},
		{"scheme glued to token", "Bearertok", "", ErrNotBearer},
		{"tab instead of space", "Bearer\ttok", "", ErrNotBearer},
		{"scheme only", "Bearer", "", ErrMalformedBearer},
		{"scheme and spaces", "Bearer   ", "", ErrMalformedBearer},
		{"two words", "Bearer tok extra", "", ErrMalformedBearer},
		{"auth-params", `Bearer realm="x"`, "", ErrMalformedBearer},
		{"only padding", "Bearer ==", "", ErrMalformedBearer},
		{"padding inside", "Bearer a=b", "", ErrMalformedBearer},
		{"comma", "Bearer a,b", "", ErrMalformedBearer},
		{"non-ASCII", "Bearer tök", "", ErrMalformedBearer},
		{"control character", "Bearer to\x00k", "", ErrMalformedBearer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseBearer(tt.header)
			if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("ParseBearer(%q) = %q, %v; want %q, %v", tt.header, got, err, tt.want, tt.err)
			}
		})
	}
}

// bearerErrorTexts are every message ParseBearer's errors may have.
var bearerErrorTexts = []string{
	ErrNoCredentials.Error(),
	ErrNotBearer.Error(),
	ErrMalformedBearer.Error() + ": no token after the scheme",
	ErrMalformedBearer.Error() + ": the token is not one token68 (RFC 7235)",
}

// FuzzParseBearer: ParseBearer never panics; it either returns a non-empty
// token68 that it would parse again from "Bearer "+token (in any scheme
// case), or one of its three errors with a fixed message (so never one
// that repeats the input).
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"", "Bearer tok", "bearer tok", "Bearer", "Bearer  a.b.c", "Basic x", "tok", "Bearer a b", "Bearer ==", "Bearer a=", " Bearer\tx "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, err := ParseBearer(header)
		if err != nil {
			if tok != "" {
				t.Fatalf("ParseBearer(%q) returned token %q with error %v", header, tok, err)
			}
			if !errors.Is(err, ErrNoCredentials) && !errors.Is(err, ErrNotBearer) && !errors.Is(err, ErrMalformedBearer) {
				t.Fatalf("ParseBearer(%q): untyped error %v", header, err)
			}
			// The messages are fixed, so no error can carry a credential.
			if !slices.Contains(bearerErrorTexts, err.Error()) {
				t.Fatalf("ParseBearer(%q): the error %q is not one of the fixed messages", header, err)
			}
			return
		}
		if !IsToken68(tok) || !strings.Contains(header, tok) {
			t.Fatalf("ParseBearer(%q) = %q: not a token68 of the header", header, tok)
		}
		for _, scheme := range []string{"Bearer ", "bearer ", "BEARER  "} {
			if again, err := ParseBearer(scheme + tok); err != nil || again != tok {
				t.Fatalf("ParseBearer(%q) = %q, %v after ParseBearer(%q) = %q", scheme+tok, again, err, header, tok)
			}
		}
	})
}
