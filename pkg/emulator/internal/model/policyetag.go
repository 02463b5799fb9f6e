package model

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"time"
)

// emptyPolicyEtag is the etag of a policy that was never set.
const emptyPolicyEtag = "ACAB"

// NewEtag returns canonical standard base64 of 8 random bytes ("BwYhL3gGvXA=").
func NewEtag() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// BindingsAt returns the bindings the data plane honours at now, given the
// IAM propagation delay: the bindings before the last change until
// UpdateTime+delay has passed, the current ones afterwards. nil-safe.
func (p *Policy) BindingsAt(now time.Time, delay time.Duration) []*Binding {
	if p == nil {
		return nil
	}
	if delay > 0 && !p.UpdateTime.IsZero() && now.Before(p.UpdateTime.Add(delay)) {
		return p.PrevBindings
	}
	return p.Bindings
}

// policyBindings returns p's current bindings; nil-safe.
func (p *Policy) CurrentBindings() []*Binding {
	if p == nil {
		return nil
	}
	return p.Bindings
}

// SameEtag compares two etags as the bytes they encode. An etag is a bytes
// field: gcloud decodes the one it read and may send it back URL-safe
// encoded ("Ae7_Mz..." for "Ae7/Mz..."), which names the same bytes and must
// not look stale.
func SameEtag(a, b string) bool {
	if a == b {
		return true
	}
	ra, oka := decodeEtag(a)
	rb, okb := decodeEtag(b)
	return oka && okb && bytes.Equal(ra, rb)
}

func decodeEtag(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(s); err == nil {
			return raw, true
		}
	}
	return nil, false
}

// etag returns p's etag, "ACAB" for a policy never set.
func (p *Policy) EffectiveEtag() string {
	if p == nil || p.Etag == "" {
		return emptyPolicyEtag
	}
	return p.Etag
}

func (s *Service) Scope() (string, string, string)  { return s.ProjectID, s.Location, s.Name }
func (f *Function) Scope() (string, string, string) { return f.ProjectID, f.Location, f.Name }
