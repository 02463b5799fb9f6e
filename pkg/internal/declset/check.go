package declset

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/config"
)

// ClaimConflictError is two declarations granting on one service (or
// function) when at least one of them owns its roles/run.invoker binding
// authoritatively: that declaration's apply sets the whole member list,
// removing the other's members, and the other's next apply adds them back.
// Member-mode grants of several declarations on one service are no
// conflict (each adds and removes only its own members).
type ClaimConflictError struct {
	// Target is "project/kind/location/name".
	Target string
	// Owner is the file that owns the binding authoritatively; Other is
	// the other file, authoritative too when OtherAuthoritative.
	Owner, Other       string
	OtherAuthoritative bool
}

func (e *ClaimConflictError) Error() string {
	if e.OtherAuthoritative {
		return fmt.Sprintf("%s and %s both own the invoker binding of %s authoritatively: each apply would remove the other's members; keep it in one declaration",
			e.Owner, e.Other, e.Target)
	}
	return fmt.Sprintf("%s owns the invoker binding of %s authoritatively and %s grants members on it too: %s's apply would remove %s's members; "+
		"move those grants into %s, or make its own grant member-mode (authoritative: false)",
		e.Owner, e.Target, e.Other, e.Owner, e.Other, e.Owner)
}

// SharedAccountError is two declarations that create the same service
// account: the second apply fails (the account exists), and destroying
// either deletes the other's account.
type SharedAccountError struct {
	Account      string // email
	First, Other string
}

func (e *SharedAccountError) Error() string {
	return fmt.Sprintf("%s and %s both create the service account %s: create it in one declaration and grant its member (serviceAccount:%s) in the other",
		e.First, e.Other, e.Account, e.Account)
}

// SharedStateError is two declarations whose Terraform runs would share a
// working directory or a backend's state: each apply would plan to delete
// what the other created.
type SharedStateError struct {
	// What is "working directory" or "backend state"; Where names it.
	What, Where  string
	First, Other string
}

func (e *SharedStateError) Error() string {
	return fmt.Sprintf("%s and %s would share the Terraform %s %s: each apply would remove what the other created; give each declaration its own",
		e.First, e.Other, e.What, e.Where)
}

// Workdir is where a declaration's Terraform working directory is (the
// CLI's default for it); Check compares the cleaned absolute paths.
type Workdir func(*config.Declaration) (string, error)

// Check refuses declarations that cannot run side by side, before
// Terraform runs: two claiming one service or function when either owns it
// authoritatively (*ClaimConflictError), two creating one service account
// (*SharedAccountError), two sharing a working directory (as workdir
// places them; nil skips that check) or a backend's state: the same gcs
// bucket and prefix, or the same settings of another backend type
// (*SharedStateError). Every conflict found is returned, joined
// (errors.As finds each type); nil when there is none.
func Check(decls []*config.Declaration, workdir Workdir) error {
	var errs []error
	errs = append(errs, checkClaims(decls)...)
	errs = append(errs, checkAccounts(decls)...)
	errs = append(errs, checkState(decls, workdir)...)
	return errors.Join(errs...)
}

// claim is one declaration's grant on a target.
type claim struct {
	file          string
	authoritative bool
}

func checkClaims(decls []*config.Declaration) []error {
	claims := map[string][]claim{}
	var targets []string
	for _, d := range decls {
		for _, g := range d.Grants {
			t := d.Project + "/" + g.Key()
			if claims[t] == nil {
				targets = append(targets, t)
			}
			claims[t] = append(claims[t], claim{d.File, g.Authoritative})
		}
	}
	var errs []error
	for _, t := range targets {
		cs := claims[t]
		for i, a := range cs {
			for j, b := range cs {
				// Each pair once: both authoritative as (first, second);
				// one authoritative with it as the owner.
				switch {
				case i < j && a.authoritative && b.authoritative:
					errs = append(errs, &ClaimConflictError{Target: t, Owner: a.file, Other: b.file, OtherAuthoritative: true})
				case i != j && a.authoritative && !b.authoritative:
					errs = append(errs, &ClaimConflictError{Target: t, Owner: a.file, Other: b.file})
				}
			}
		}
	}
	return errs
}

func checkAccounts(decls []*config.Declaration) []error {
	first := map[string]string{}
	var errs []error
	for _, d := range decls {
		for _, sa := range d.ServiceAccounts {
			email := sa.Email(d.Project)
			if f, ok := first[email]; ok {
				errs = append(errs, &SharedAccountError{Account: email, First: f, Other: d.File})
				continue
			}
			first[email] = d.File
		}
	}
	return errs
}

func checkState(decls []*config.Declaration, workdir Workdir) []error {
	var errs []error
	dirs, states := map[string]string{}, map[string]string{}
	for _, d := range decls {
		if workdir != nil {
			dir, err := workdir(d)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: locating its working directory: %w", d.File, err))
			} else if dir, err = filepath.Abs(dir); err != nil {
				errs = append(errs, fmt.Errorf("%s: locating its working directory: %w", d.File, err))
			} else if f, ok := dirs[dir]; ok {
				errs = append(errs, &SharedStateError{What: "working directory", Where: dir, First: f, Other: d.File})
			} else {
				dirs[dir] = d.File
			}
		}
		if where := stateOf(d.Terraform.Backend); where != "" {
			if f, ok := states[where]; ok {
				errs = append(errs, &SharedStateError{What: "backend state", Where: where, First: f, Other: d.File})
			} else {
				states[where] = d.File
			}
		}
	}
	return errs
}

// stateOf names where a backend keeps the state: gs://bucket/prefix for
// gcs (the prefix without its surrounding slashes, as the backend joins
// it), the type and sorted settings for any other type; "" for none.
func stateOf(b *config.Backend) string {
	if b == nil {
		return ""
	}
	if b.Type == "gcs" {
		return "gs://" + b.Config["bucket"] + "/" + strings.Trim(b.Config["prefix"], "/")
	}
	keys := make([]string, 0, len(b.Config))
	for k := range b.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + b.Config[k]
	}
	return b.Type + " backend (" + strings.Join(parts, ", ") + ")"
}
