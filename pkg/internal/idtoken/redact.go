package idtoken

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Redacted replaces token text in everything this package renders.
const Redacted = "[REDACTED]"

var (
	// A JWT (JWS compact form): its header is base64url JSON, so it starts
	// with "eyJ" ({"); payload and signature follow after dots. The
	// signature may be empty (unsigned tokens are still credentials-shaped).
	jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*={0,2}\.[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]*={0,2}`)
	// Google OAuth2 access tokens.
	accessTokenPattern = regexp.MustCompile(`ya29\.[A-Za-z0-9_.-]+`)
	// Whatever follows "Bearer " in a header dump.
	bearerPattern = regexp.MustCompile(`(?i)bearer\s+([^\s"',;]+)`)
	// The auth-params of a Bearer challenge (RFC 6750 §3), which are not
	// credentials: WWW-Authenticate: Bearer error="invalid_token".
	challengeParam = regexp.MustCompile(`(?i)^(realm|scope|error|error_description|error_uri)=`)
)

// Redact replaces every JWT-looking substring, Google access token and
// bearer credential in s with [REDACTED].
func Redact(s string) string {
	s = jwtPattern.ReplaceAllString(s, Redacted)
	s = accessTokenPattern.ReplaceAllString(s, Redacted)
	return redactBearer(s)
}

func redactBearer(s string) string {
	matches := bearerPattern.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		start, end := m[2], m[3]
		if challengeParam.MatchString(s[start:end]) {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(Redacted)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// RedactError returns err with its message redacted. errors.Is and
// errors.As still see the original chain; only the text is scrubbed.
// It returns nil for nil and err itself when nothing needed redacting.
func RedactError(err error) error {
	if err == nil {
		return nil
	}
	var r *redactedError
	if errors.As(err, &r) && r.msg == err.Error() {
		return err
	}
	msg := Redact(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Format keeps %+v and %#v from reaching the wrapped error's own text.
func (e *redactedError) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(e.msg)) }

// RedactingHandler wraps a slog.Handler so that the message and every
// string, error and Stringer attribute (groups included) are passed through
// Redact before they reach h.
func RedactingHandler(h slog.Handler) slog.Handler { return &redactingHandler{h: h} }

type redactingHandler struct{ h slog.Handler }

func (r *redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return r.h.Enabled(ctx, l)
}

func (r *redactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, Redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r *redactingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return &redactingHandler{h: r.h.WithAttrs(red)}
}

func (r *redactingHandler) WithGroup(name string) slog.Handler {
	return &redactingHandler{h: r.h.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]slog.Attr, len(g))
		for i, ga := range g {
			red[i] = redactAttr(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(red...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Redact(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, Redact(x.String()))
		case []byte:
			return slog.String(a.Key, Redact(string(x)))
		default:
			return slog.String(a.Key, Redact(fmt.Sprint(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
