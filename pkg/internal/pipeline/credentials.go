package pipeline

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/idtoken"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
)

// CredentialKind is how a caller's ID token is obtained.
type CredentialKind string

// Credential kinds: the four sources Cloud Run's authentication guide lists.
const (
	// CredImpersonate mints the caller's token through IAM Credentials
	// generateIdToken, as the operator (the default). Arg: an optional
	// comma-separated delegation chain.
	CredImpersonate CredentialKind = "impersonate"
	// CredKey uses a service-account key file of the caller. Arg: the path.
	CredKey CredentialKind = "key"
	// CredMetadata asks the metadata server (code running on Google with
	// the caller attached).
	CredMetadata CredentialKind = "metadata"
	// CredTokenFile and CredTokenEnv take a ready ID token from a file or an
	// environment variable (what CI auth actions hand over). Arg: the path
	// or the variable name.
	CredTokenFile CredentialKind = "token-file"
	CredTokenEnv  CredentialKind = "token-env"
)

// CredentialSpec says how to get one caller's token: CALLER=KIND[:ARG].
// Caller is a declared short name, a member, or "*" for every caller.
type CredentialSpec struct {
	Caller string
	Kind   CredentialKind
	Arg    string
}

// ParseCredentialSpec parses "CALLER=KIND[:ARG]".
func ParseCredentialSpec(s string) (CredentialSpec, error) {
	caller, src, ok := strings.Cut(s, "=")
	if !ok || caller == "" || src == "" {
		return CredentialSpec{}, fmt.Errorf("credentials %q: want CALLER=SOURCE, e.g. orders-caller=key:./orders-caller.json or '*=metadata'", s)
	}
	kind, arg, _ := strings.Cut(src, ":")
	spec := CredentialSpec{Caller: caller, Kind: CredentialKind(kind), Arg: arg}
	switch spec.Kind {
	case CredImpersonate:
		if arg != "" {
			for _, d := range strings.Split(arg, ",") {
				if strings.TrimSpace(d) == "" {
					return CredentialSpec{}, fmt.Errorf("credentials %q: empty delegate in the delegation chain (want impersonate:DELEGATE[,DELEGATE...])", s)
				}
			}
		}
	case CredMetadata:
		if arg != "" {
			return CredentialSpec{}, fmt.Errorf("credentials %q: metadata takes no argument", s)
		}
	case CredKey, CredTokenFile, CredTokenEnv:
		if arg == "" {
			return CredentialSpec{}, fmt.Errorf("credentials %q: %s needs an argument (%s:PATH or token-env:VAR)", s, kind, kind)
		}
	default:
		return CredentialSpec{}, fmt.Errorf("credentials %q: unknown source %q (want impersonate, key:PATH, metadata, token-file:PATH or token-env:VAR)", s, kind)
	}
	return spec, nil
}

// Sources hands out one cached ID-token source per caller member.
type Sources struct {
	Target target.Target
	Decl   *config.Declaration
	Specs  []CredentialSpec
	// Cache configures the per-caller token caches.
	Cache idtoken.CacheOptions
	// Retry is the retry policy of the Google API calls that mint tokens
	// (IAM Credentials generateIdToken, for impersonation and for
	// impersonated_service_account key files): the same policy as every
	// other Google API call (429/5xx with backoff and Retry-After, bounded).
	// The zero value uses gcp's defaults. The metadata-server library
	// retries 429/5xx itself and is left to it.
	Retry gcp.RetryPolicy

	mu    sync.Mutex
	srcs  map[string]*idtoken.Cache
	specs map[string]CredentialSpec // by resolved member, "*" kept as is
}

// Validate resolves every spec's caller against the declaration.
func (s *Sources) Validate() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resolveLocked()
}

func (s *Sources) resolveLocked() error {
	if s.specs != nil {
		return nil
	}
	specs := map[string]CredentialSpec{}
	for _, sp := range s.Specs {
		key := sp.Caller
		if key != "*" {
			m, ok := s.Decl.ResolveMember(sp.Caller)
			if !ok {
				return fmt.Errorf("credentials for %q: no service account with that short name in %s", sp.Caller, s.Decl.File)
			}
			key = m
		}
		if _, dup := specs[key]; dup {
			return fmt.Errorf("credentials for %q given twice", sp.Caller)
		}
		specs[key] = sp
	}
	s.specs = specs
	return nil
}

// For returns the token source for a caller member, building and caching
// it on first use.
func (s *Sources) For(ctx context.Context, member string) (idtoken.Source, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.resolveLocked(); err != nil {
		return nil, err
	}
	if c, ok := s.srcs[member]; ok {
		return c, nil
	}
	spec, ok := s.specs[member]
	if !ok {
		spec, ok = s.specs["*"]
	}
	if !ok {
		spec = CredentialSpec{Caller: member, Kind: CredImpersonate}
	}
	src, err := s.build(ctx, member, spec)
	if err != nil {
		return nil, fmt.Errorf("token source for %s (%s): %w", member, spec.Kind, err)
	}
	if email, ok := strings.CutPrefix(member, "serviceAccount:"); ok {
		src = &callerCheck{src: src, email: email}
	}
	c := idtoken.NewCache(src, s.Cache)
	if s.srcs == nil {
		s.srcs = map[string]*idtoken.Cache{}
	}
	s.srcs[member] = c
	return c, nil
}

func (s *Sources) build(ctx context.Context, member string, spec CredentialSpec) (idtoken.Source, error) {
	switch spec.Kind {
	case CredImpersonate:
		hc, err := s.Target.AuthorizedClient(ctx)
		if err != nil {
			return nil, err
		}
		hc = gcp.WithRetry(hc, s.Retry)
		var delegates []string
		if spec.Arg != "" {
			for _, d := range strings.Split(spec.Arg, ",") {
				if m, ok := s.Decl.ResolveMember(strings.TrimSpace(d)); ok {
					d = m
				}
				delegates = append(delegates, d)
			}
		}
		return idtoken.NewImpersonated(idtoken.ImpersonationOptions{Target: member, Delegates: delegates, HTTPClient: hc})
	case CredKey:
		// An impersonated_service_account file leads to Google API calls
		// through this client; a service_account key's own token exchange
		// goes through the library's client.
		return idtoken.NewKeyFile(spec.Arg, idtoken.KeyOptions{HTTPClient: gcp.WithRetry(nil, s.Retry)})
	case CredMetadata:
		hc := s.Target.MetadataClient()
		if hc == nil || os.Getenv("GCE_METADATA_HOST") != "" {
			return idtoken.NewMetadata(idtoken.MetadataOptions{}), nil
		}
		// Against an emulator without an explicit GCE_METADATA_HOST, ask the
		// emulator's metadata server rather than 169.254.169.254, which is
		// not part of the emulated world.
		return &described{Source: idtoken.NewMetadata(idtoken.MetadataOptions{HTTPClient: hc}),
			desc: "metadata server " + s.Target.MetadataHost() + " (attached service account)"}, nil
	case CredTokenFile:
		return idtoken.NewTokenFile(spec.Arg)
	case CredTokenEnv:
		return idtoken.NewTokenEnv(spec.Arg)
	}
	return nil, fmt.Errorf("unknown credential kind %q", spec.Kind)
}

// Mints counts the tokens minted so far, over every caller.
func (s *Sources) Mints() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.srcs {
		n += c.Mints()
	}
	return n
}

// callerCheck refuses a token that speaks for another account than the
// caller it is used for (a token file, variable, key or metadata server of
// the wrong account): a call with it would prove that account's grant, not
// the caller's. Tokens without an email claim cannot be compared and pass.
type callerCheck struct {
	src   idtoken.Source
	email string
}

func (c *callerCheck) Token(ctx context.Context, audience string) (idtoken.Token, error) {
	tok, err := c.src.Token(ctx, audience)
	if err != nil {
		return idtoken.Token{}, err
	}
	if tok.Email != "" && !strings.EqualFold(tok.Email, c.email) {
		return idtoken.Token{}, &idtoken.AccountMismatchError{Source: c.src.Describe(), TokenEmail: tok.Email, Caller: c.email}
	}
	return tok, nil
}

func (c *callerCheck) Describe() string { return c.src.Describe() }

// Unwrap lets idtoken.SelectAudience see an explicit token's audience.
func (c *callerCheck) Unwrap() idtoken.Source { return c.src }

// described gives a source another description.
type described struct {
	idtoken.Source
	desc string
}

func (d *described) Describe() string { return d.desc }

func (d *described) Unwrap() idtoken.Source { return d.Source }
