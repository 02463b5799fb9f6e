// Package metadata serves the GCE metadata server for the emulator: project
// and instance values, the attached account's tokens and ID tokens.
package metadata

// The GCE metadata server (contract §11) for one pretend instance whose
// attached service account is Options.MetadataServiceAccount (its email may
// be used in place of "default"). Point clients at it with
// GCE_METADATA_HOST={Addr()}. Every answer carries Metadata-Flavor: Google;
// requests without that header get 403; bodies are plain text (JSON where
// Google answers JSON); unknown paths are 404 (including universe/*, which
// clients read as "googleapis.com").

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

const metadataPrefix = "/computeMetadata/v1"

// metadataZone is the pretend instance's zone.
const metadataZone = "us-central1-a"

// metadataHandler is a metadata endpoint: it returns the body (and its
// content type) or a status with a plain-text message.
type metadataHandler func(r *http.Request, v map[string]string) (body, contentType string, status int)

// RegisterMetadataRoutes registers the metadata server paths on e.
func RegisterMetadataRoutes(e *core.Server) {
	m := func(pattern, name string, h metadataHandler) {
		e.Router.Handle(http.MethodGet, metadataPrefix+pattern, name, metadata(e, h))
	}
	const acct = "/instance/service-accounts/{acct}"
	m("/project/project-id", "metadata.projectId", func(a0 *http.Request, a1 map[string]string) (string, string, int) { return mdProjectID(e, a0, a1) })
	m("/project/numeric-project-id", "metadata.numericProjectId", func(a0 *http.Request, a1 map[string]string) (string, string, int) {
		return mdNumericProjectID(e, a0, a1)
	})
	m("/instance/id", "metadata.instanceId", func(*http.Request, map[string]string) (string, string, int) {
		return instanceID(e), "", http.StatusOK
	})
	m("/instance/zone", "metadata.zone", func(*http.Request, map[string]string) (string, string, int) {
		return "projects/" + metadataProjectNumber(e) + "/zones/" + metadataZone, "", http.StatusOK
	})
	m("/instance/service-accounts", "metadata.serviceAccounts", func(a0 *http.Request, a1 map[string]string) (string, string, int) {
		return mdServiceAccounts(e, a0, a1)
	})
	m(acct, "metadata.serviceAccount", mdAccount(e, mdServiceAccount))
	m(acct+"/email", "metadata.email", mdAccount(e, mdEmail))
	m(acct+"/aliases", "metadata.aliases", mdAccount(e, mdAliases))
	m(acct+"/scopes", "metadata.scopes", mdAccount(e, mdScopes))
	m(acct+"/token", "metadata.token", func(a0 *http.Request, a1 map[string]string) (string, string, int) { return mdToken(e, a0, a1) })
	m(acct+"/identity", "metadata.identity", func(a0 *http.Request, a1 map[string]string) (string, string, int) { return mdIdentity(e, a0, a1) })
	// Everything else under the prefix: 404 in the metadata server's shape.
	notFound := func(*http.Request, map[string]string) (string, string, int) { return "", "", http.StatusNotFound }
	pat := ""
	for i := range 8 {
		pat += "/{s" + string(rune('0'+i)) + "}"
		m(pat, "metadata.unknown", notFound)
	}
	e.Router.Handle(http.MethodGet, metadataPrefix, "metadata.unknown", metadata(e, notFound))
}

// metadata adapts a metadataHandler: Metadata-Flavor checks and headers.
func metadata(e *core.Server, h metadataHandler) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, v map[string]string) {
		w.Header().Set("Metadata-Flavor", "Google")
		w.Header().Set("Server", "Metadata Server for VM")
		if r.Header.Get("Metadata-Flavor") != "Google" || r.Header.Get("X-Forwarded-For") != "" {
			writeText(w, http.StatusForbidden, "Missing required header \"Metadata-Flavor\": \"Google\"\n")
			return
		}
		body, ctype, status := h(r, v)
		switch {
		case status == http.StatusNotFound && body == "":
			body = "Not Found\n"
		case status != http.StatusOK && body == "":
			body = http.StatusText(status) + "\n"
		}
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		writeText(w, status, body)
	}
}

func writeText(w http.ResponseWriter, status int, body string) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/text")
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func metadataProjectNumber(e *core.Server) string {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	return metadataProjectNumberLocked(e)
}

func metadataProjectNumberLocked(e *core.Server) string {
	if p := e.St.Projects[e.Opts.Project]; p != nil {
		return p.Number
	}
	return core.ProjectNumberFor(e.Opts.Project)
}

// instanceID is a stable 19-digit id derived from the project.
func instanceID(e *core.Server) string {
	n := core.ProjectNumberFor("instance:" + e.Opts.Project)
	return n + core.LeftPad(n[:7], 7)
}

func mdProjectID(e *core.Server, _ *http.Request, _ map[string]string) (string, string, int) {
	return e.Opts.Project, "", http.StatusOK
}

func mdNumericProjectID(e *core.Server, _ *http.Request, _ map[string]string) (string, string, int) {
	return metadataProjectNumber(e), "", http.StatusOK
}

// attachedLocked returns the attached account if acct names it ("default"
// or its email) and it is live; nil otherwise. Called with e.mu held.
func attachedLocked(e *core.Server, acct string) *model.ServiceAccount {
	email := strings.ToLower(e.Opts.MetadataServiceAccount)
	if email == "" || (acct != "default" && !strings.EqualFold(acct, email)) {
		return nil
	}
	return e.ServiceAccountLocked(email)
}

// attached is attachedLocked for callers that do not hold e.mu.
func attached(e *core.Server, acct string) *model.ServiceAccount {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	return attachedLocked(e, acct)
}

// mdAccount adapts an endpoint of the attached account ({acct}): 404
// unless {acct} names it.
func mdAccount(e *core.Server, h func(r *http.Request, sa *model.ServiceAccount) (string, string, int)) metadataHandler {
	return func(r *http.Request, v map[string]string) (string, string, int) {
		sa := attached(e, v["acct"])
		if sa == nil {
			return "", "", http.StatusNotFound
		}
		return h(r, sa)
	}
}

// mintingAccountLocked is the attached account acct names if it may mint
// tokens; otherwise nil and the answer: 404, or 403 when it is disabled.
// Called with e.mu held.
func mintingAccountLocked(e *core.Server, acct string) (sa *model.ServiceAccount, body string, status int) {
	sa = attachedLocked(e, acct)
	if sa == nil {
		return nil, "", http.StatusNotFound
	}
	if sa.Disabled {
		return nil, "service account " + sa.Email + " is disabled\n", http.StatusForbidden
	}
	return sa, "", http.StatusOK
}

func mdServiceAccounts(e *core.Server, r *http.Request, _ map[string]string) (string, string, int) {
	sa := attached(e, "default")
	if sa == nil {
		return "", "", http.StatusOK
	}
	if r.URL.Query().Get("recursive") == "true" {
		b, _ := json.Marshal(map[string]any{
			"default": saMetadataJSON(sa), sa.Email: saMetadataJSON(sa),
		})
		return string(b), "application/json", http.StatusOK
	}
	return "default/\n" + sa.Email + "/\n", "", http.StatusOK
}

var metadataScopes = []string{"https://www.googleapis.com/auth/cloud-platform"}

func saMetadataJSON(sa *model.ServiceAccount) map[string]any {
	return map[string]any{"aliases": []string{"default"}, "email": sa.Email, "scopes": metadataScopes}
}

func mdServiceAccount(r *http.Request, sa *model.ServiceAccount) (string, string, int) {
	if r.URL.Query().Get("recursive") == "true" {
		b, _ := json.Marshal(saMetadataJSON(sa))
		return string(b), "application/json", http.StatusOK
	}
	return "aliases\nemail\nidentity\nscopes\ntoken\n", "", http.StatusOK
}

func mdEmail(_ *http.Request, sa *model.ServiceAccount) (string, string, int) {
	return sa.Email, "", http.StatusOK
}

func mdAliases(*http.Request, *model.ServiceAccount) (string, string, int) {
	return "default\n", "", http.StatusOK
}

func mdScopes(*http.Request, *model.ServiceAccount) (string, string, int) {
	return strings.Join(metadataScopes, "\n") + "\n", "", http.StatusOK
}

// mdToken mints an access token for the attached account; ?scopes=a,b
// chooses scopes (default cloud-platform). A disabled account gets 403.
func mdToken(e *core.Server, r *http.Request, v map[string]string) (string, string, int) {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	sa, msg, status := mintingAccountLocked(e, v["acct"])
	if sa == nil {
		return msg, "", status
	}
	scopes := metadataScopes
	if s := r.URL.Query().Get("scopes"); s != "" {
		scopes = strings.Split(s, ",")
	}
	tok, exp := e.MintAccessTokenLocked("serviceAccount:"+sa.Email, scopes, core.AccessTokenLifetime)
	if err := e.SaveLocked(); err != nil {
		return err.Error(), "", http.StatusInternalServerError
	}
	b, _ := json.Marshal(map[string]any{
		"access_token": tok,
		"expires_in":   int(exp.Sub(e.Opts.Now()).Seconds()) - 1,
		"token_type":   "Bearer",
	})
	return string(b), "application/json", http.StatusOK
}

// mdIdentity returns a raw ID token (no newline) for ?audience=; format
// "full" adds email and the google.compute_engine claim, "standard" (the
// default) carries neither.
func mdIdentity(e *core.Server, r *http.Request, v map[string]string) (string, string, int) {
	q := r.URL.Query()
	aud := q.Get("audience")
	if aud == "" {
		return "non-empty audience parameter required\n", "", http.StatusBadRequest
	}
	format := q.Get("format")
	if format == "" {
		format = "standard"
	}
	if format != "standard" && format != "full" {
		return "invalid format parameter: " + format + "\n", "", http.StatusBadRequest
	}
	e.Mu.Lock()
	defer e.Mu.Unlock()
	sa, msg, status := mintingAccountLocked(e, v["acct"])
	if sa == nil {
		return msg, "", status
	}
	var extra map[string]any
	if format == "full" {
		extra = map[string]any{"google": map[string]any{"compute_engine": map[string]any{
			"project_id":                  e.Opts.Project,
			"project_number":              json.Number(metadataProjectNumberLocked(e)),
			"zone":                        metadataZone,
			"instance_id":                 instanceID(e),
			"instance_name":               "emulated-instance",
			"instance_creation_timestamp": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix(),
		}}}
	}
	tok, err := e.MintIDToken(sa, aud, format == "full", extra)
	if err != nil {
		return err.Error(), "", http.StatusInternalServerError
	}
	return tok, "text/html; charset=utf-8", http.StatusOK
}
