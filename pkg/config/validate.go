package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

var (
	// Google's project id rule: 6-30 characters, lower-case letters,
	// digits and hyphens, starting with a letter, not ending with a hyphen.
	projectRe = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	// Service account ids: 6-30 characters.
	accountIDRe = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])$`)
	// Cloud Run regions: us-central1, europe-west1, northamerica-northeast2...
	locationRe = regexp.MustCompile(`^[a-z]+(-[a-z]+)+[0-9]{1,2}$`)
	// Cloud Run service names: up to 49 characters.
	serviceNameRe = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$`)
	// Cloud Run functions (2nd gen) names: up to 63 characters.
	functionNameRe = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	backendKeyRe   = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	invokePathRe   = regexp.MustCompile(`^/[^\s]*$`)
	// Short account names, used in grants in place of a member.
	shortNameRe = regexp.MustCompile(`^[a-z][-a-z0-9]*$`)
)

// Backends Terraform has built in.
var knownBackends = map[string]bool{
	"azurerm": true, "consul": true, "cos": true, "gcs": true, "http": true, "kubernetes": true,
	"local": true, "oss": true, "pg": true, "remote": true, "s3": true,
}

var knownMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true,
}

func (d *decoder) posOf(path string, fallback Position) Position {
	if p, ok := d.pos[path]; ok {
		return p
	}
	return fallback
}

// topLevel checks a required top-level string field: missing (unless
// decoding already reported it) or, when set, valid.
func (d *decoder) topLevel(top Position, path, value, missing string, valid func(string) bool, invalid string) {
	switch {
	case value == "":
		if !d.reported(path) {
			d.add(top, path, "%s", missing)
		}
	case !valid(value):
		d.add(d.posOf(path, top), path, "%q %s", value, invalid)
	}
}

// validate applies every rule, defaults unset fields and resolves members.
// It adds to d's error list and never stops at the first problem.
func validate(decl *Declaration, d *decoder) {
	top := d.posOf("", Position{1, 1})

	d.topLevel(top, "apiVersion", decl.APIVersion, fmt.Sprintf("is required (want %q)", APIVersion),
		func(v string) bool { return v == APIVersion }, fmt.Sprintf("is not supported (want %q)", APIVersion))
	d.topLevel(top, "project", decl.Project, "is required",
		projectRe.MatchString, "is not a valid project id (6-30 characters: lower-case letters, digits and hyphens, starting with a letter, not ending with a hyphen)")
	d.topLevel(top, "location", decl.Location, "is required (the default location of grants, e.g. us-central1)",
		locationRe.MatchString, "is not a valid location (want a region such as us-central1)")

	if b := decl.Terraform.Backend; b != nil {
		bp := d.posOf("terraform.backend", top)
		switch {
		case b.Type == "":
			d.add(bp, "terraform.backend.type", "is required (e.g. gcs)")
		case !knownBackends[b.Type]:
			d.add(d.posOf("terraform.backend.type", bp), "terraform.backend.type", "%q is not a Terraform backend (want one of %s)", b.Type, sortedKeys(knownBackends))
		}
		for _, k := range slices.Sorted(maps.Keys(b.Config)) {
			if !backendKeyRe.MatchString(k) {
				d.add(d.posOf("terraform.backend.config."+k, bp), "terraform.backend.config."+k, "%q is not a valid backend setting name", k)
			}
		}
	}

	validateAccounts(decl, d)

	if tc := decl.SmokeTest.TokenCreator; tc != "" {
		p := d.posOf("smokeTest.tokenCreator", top)
		if m, ok := resolveMember(decl, d, tc, p, "smokeTest.tokenCreator"); ok {
			if IsPublicMember(m) {
				d.add(p, "smokeTest.tokenCreator", "%q would let anyone mint the accounts' tokens; name one identity", tc)
			} else {
				decl.SmokeTest.TokenCreator = m
			}
		}
	}

	firstByKey := map[string]int{}
	for i := range decl.Grants {
		validateGrant(decl, d, i, firstByKey)
	}
}

func validateAccounts(decl *Declaration, d *decoder) {
	decl.accounts = map[string]int{}
	byID := map[string]int{}
	for i := range decl.ServiceAccounts {
		sa := &decl.ServiceAccounts[i]
		path := fmt.Sprintf("serviceAccounts[%d]", i)
		dupName := false
		switch {
		case sa.Name == "":
			if d.reported(path + ".name") {
				break
			}
			d.add(sa.Pos, path+".name", "is required")
		case !shortNameRe.MatchString(sa.Name) || len(sa.Name) > 63:
			d.add(d.posOf(path+".name", sa.Pos), path+".name", "%q is not a valid short name (lower-case letters, digits and hyphens, starting with a letter, at most 63 characters)", sa.Name)
		default:
			if j, dup := decl.accounts[sa.Name]; dup {
				dupName = true
				d.add(d.posOf(path+".name", sa.Pos), path+".name", "duplicate account name %q (first declared at line %d)", sa.Name, decl.ServiceAccounts[j].Pos.Line)
			} else {
				decl.accounts[sa.Name] = i
			}
		}
		idPath := path + ".accountId"
		idPos := d.posOf(idPath, d.posOf(path+".name", sa.Pos))
		if sa.AccountID == "" {
			sa.AccountID = sa.Name
			idPath = path + ".name"
		}
		if sa.AccountID != "" {
			switch {
			case len(sa.AccountID) < 6 || len(sa.AccountID) > 30:
				d.add(idPos, idPath, "account id %q must be 6-30 characters long (it is %d)", sa.AccountID, len(sa.AccountID))
			case !accountIDRe.MatchString(sa.AccountID):
				d.add(idPos, idPath, "account id %q must match ^[a-z]([-a-z0-9]*[a-z0-9])$", sa.AccountID)
			default:
				if j, dup := byID[sa.AccountID]; dup && !(dupName && idPath == path+".name") {
					d.add(idPos, idPath, "duplicate account id %q (also used by serviceAccounts[%d])", sa.AccountID, j)
				} else {
					byID[sa.AccountID] = i
				}
			}
		}
		if len(sa.DisplayName) > 100 {
			d.add(d.posOf(path+".displayName", sa.Pos), path+".displayName", "is %d characters long; at most 100 are allowed", len(sa.DisplayName))
		}
		if len(sa.Description) > 256 {
			d.add(d.posOf(path+".description", sa.Pos), path+".description", "is %d characters long; at most 256 are allowed", len(sa.Description))
		}
	}
}

// resolveMember resolves one member as written, reporting what is wrong.
func resolveMember(decl *Declaration, d *decoder, m string, pos Position, path string) (string, bool) {
	if m == "" && d.reported(path) {
		return "", false
	}
	if m == "" {
		d.add(pos, path, "must not be empty")
		return "", false
	}
	short, err := checkMember(m)
	if err != nil {
		d.add(pos, path, "%s", err)
		return "", false
	}
	if short {
		sa, ok := decl.Account(m)
		if !ok {
			d.add(pos, path, "unknown short name %q: no serviceAccounts entry has that name (declared: %s)", m, declaredNames(decl))
			return "", false
		}
		return sa.Member(decl.Project), true
	}
	return NormalizeMember(m), true
}

func declaredNames(decl *Declaration) string {
	if len(decl.accounts) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(maps.Keys(decl.accounts)), ", ")
}

func validateGrant(decl *Declaration, d *decoder, i int, firstByKey map[string]int) {
	g := &decl.Grants[i]
	path := fmt.Sprintf("grants[%d]", i)
	switch {
	case g.rawService != "" && g.rawFunction != "":
		d.add(d.posOf(path+".function", g.Pos), path, "set exactly one of service or function, not both")
	case g.rawService == "" && g.rawFunction == "":
		if d.reported(path+".service") || d.reported(path+".function") {
			break
		}
		d.add(g.Pos, path, "set exactly one of service or function")
	case g.Kind == KindService && !serviceNameRe.MatchString(g.Name):
		d.add(d.posOf(path+".service", g.Pos), path+".service", "%q is not a valid Cloud Run service name (lower-case letters, digits and hyphens, starting with a letter, at most 49 characters)", g.Name)
	case g.Kind == KindFunction && !functionNameRe.MatchString(g.Name):
		d.add(d.posOf(path+".function", g.Pos), path+".function", "%q is not a valid function name (lower-case letters, digits and hyphens, starting with a letter, at most 63 characters)", g.Name)
	}
	if g.Location == "" {
		g.Location = decl.Location
	} else if !locationRe.MatchString(g.Location) {
		d.add(d.posOf(path+".location", g.Pos), path+".location", "%q is not a valid location (want a region such as europe-west1)", g.Location)
	}
	if g.Kind != "" && g.Name != "" && g.Location != "" {
		if j, dup := firstByKey[g.Key()]; dup {
			d.add(g.Pos, path, "duplicate grant: %s %q in %s is already granted by grants[%d] (line %d); merge their members", g.Kind, g.Name, g.Location, j, decl.Grants[j].Pos.Line)
		} else {
			firstByKey[g.Key()] = i
		}
	}

	if len(g.Members) == 0 && !d.reported(path+".members") {
		d.add(d.posOf(path+".members", g.Pos), path+".members", "at least one member is required")
	}
	seen := map[string]int{}
	hasPublic := false
	g.ResolvedMembers = nil
	for j, m := range g.Members {
		mp := fmt.Sprintf("%s.members[%d]", path, j)
		pos := d.posOf(mp, g.Pos)
		r, ok := resolveMember(decl, d, m, pos, mp)
		if !ok {
			continue
		}
		if IsPublicMember(r) {
			hasPublic = true
			if !g.Public {
				d.add(pos, mp, "%q makes the target public; set public: true on this grant if that is intended", m)
				continue
			}
		}
		if k, dup := seen[r]; dup {
			d.add(pos, mp, "%q is listed twice (also members[%d])", m, k)
			continue
		}
		seen[r] = j
		g.ResolvedMembers = append(g.ResolvedMembers, r)
	}

	validateInvoke(decl, d, g, path, hasPublic)
}

func validateInvoke(decl *Declaration, d *decoder, g *Grant, path string, hasPublic bool) {
	inv := &g.Invoke
	ip := path + ".invoke"
	ipos := d.posOf(ip, g.Pos)
	if inv.Method == "" {
		inv.Method = "GET"
	} else if !knownMethods[inv.Method] {
		d.add(d.posOf(ip+".method", ipos), ip+".method", "%q is not an HTTP method (want one of %s)", inv.Method, sortedKeys(knownMethods))
	}
	if inv.Path == "" {
		inv.Path = "/"
	} else if !invokePathRe.MatchString(inv.Path) {
		d.add(d.posOf(ip+".path", ipos), ip+".path", "%q must start with / and contain no spaces", inv.Path)
	}
	if inv.Body != "" && (inv.Method == "GET" || inv.Method == "HEAD") {
		d.add(d.posOf(ip+".body", ipos), ip+".body", "a %s request carries no body; use POST, PUT or PATCH", inv.Method)
	}
	if _, set := d.pos[ip+".expectStatus"]; !set && inv.ExpectStatus == 0 {
		inv.ExpectStatus = 200
	} else if (inv.ExpectStatus < 100 || inv.ExpectStatus > 599) && !d.reported(ip+".expectStatus") {
		d.add(d.posOf(ip+".expectStatus", ipos), ip+".expectStatus", "%d is not an HTTP status (want 100-599)", inv.ExpectStatus)
	}

	granted := map[string]bool{}
	for _, m := range g.ResolvedMembers {
		granted[m] = true
	}
	if inv.As != "" {
		p := d.posOf(ip+".as", ipos)
		if m, ok := resolveMember(decl, d, inv.As, p, ip+".as"); ok {
			if !strings.HasPrefix(m, "serviceAccount:") {
				d.add(p, ip+".as", "%q cannot be a caller: the smoke test calls as a service account (a short name or serviceAccount:)", inv.As)
			} else {
				inv.Caller = m
			}
		}
	} else {
		for _, m := range g.ResolvedMembers {
			if strings.HasPrefix(m, "serviceAccount:") {
				inv.Caller = m
				break
			}
		}
		if inv.Caller == "" && !inv.Skip && !hasPublic && len(g.ResolvedMembers) > 0 {
			d.add(ipos, ip+".as", "no serviceAccount member to call as: set invoke.as, or invoke.skip: true")
		}
	}
	if inv.RefusedCaller != "" {
		p := d.posOf(ip+".refusedCaller", ipos)
		if m, ok := resolveMember(decl, d, inv.RefusedCaller, p, ip+".refusedCaller"); ok {
			switch {
			case !strings.HasPrefix(m, "serviceAccount:"):
				d.add(p, ip+".refusedCaller", "%q cannot be a caller: the smoke test calls as a service account (a short name or serviceAccount:)", inv.RefusedCaller)
			case granted[m]:
				d.add(p, ip+".refusedCaller", "%q is granted on this %s, so it cannot be expected to be refused", inv.RefusedCaller, g.Kind)
			case hasPublic:
				d.add(p, ip+".refusedCaller", "this %s is public: every caller is accepted, so none can be expected to be refused", g.Kind)
			case m == inv.Caller:
				d.add(p, ip+".refusedCaller", "%q is also the caller (invoke.as)", inv.RefusedCaller)
			default:
				inv.RefusedMember = m
			}
		}
	}
}

// sortedKeys lists a set's members in order, for messages.
func sortedKeys(m map[string]bool) string {
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}
