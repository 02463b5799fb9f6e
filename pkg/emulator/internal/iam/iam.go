// Package iam serves IAM v1 service accounts, their keys and their IAM
// policies for the emulator.
package iam

// IAM v1: service accounts, their keys and their IAM policies (contract §3).
//
// {p} in paths may be a project id, a project number or "-"; {sa} may be
// the email (with '@' or "%40") or the 21-digit uniqueId. Every call is
// authorized through the account's policy ∪ its project's policy.

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// keyValidBefore is validBeforeTime of user-managed keys (as production).
var keyValidBefore = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// maxUserKeys is production's limit of user-managed keys per account.
const maxUserKeys = 10

// RegisterIAMRoutes registers IAM v1 service accounts, keys and their policies on e.
func RegisterIAMRoutes(e *core.Server) {
	const sa = "/v1/projects/{p}/serviceAccounts/{sa}"
	e.HandleIAMVerbs(sa, "iam.v1.serviceAccounts", func(a0 map[string]string) func() (*core.IAMResource, *httpx.Error) { return saIamResource(e, a0) }, http.MethodPost)
	e.Router.Handle(http.MethodPost, sa+":enable", "iam.v1.serviceAccounts.enable", onAccount(e, "iam.serviceAccounts.enable", true, setDisabled(false)))
	e.Router.Handle(http.MethodPost, sa+":disable", "iam.v1.serviceAccounts.disable", onAccount(e, "iam.serviceAccounts.disable", true, setDisabled(true)))
	e.Router.Handle(http.MethodPost, sa+"/keys", "iam.v1.serviceAccounts.keys.create", e.With(handleKeyCreate))
	e.Router.Handle(http.MethodGet, sa+"/keys", "iam.v1.serviceAccounts.keys.list", onAccount(e, "iam.serviceAccountKeys.list", false, listKeys))
	e.Router.Handle(http.MethodGet, sa+"/keys/{key}", "iam.v1.serviceAccounts.keys.get", onKey(e, "iam.serviceAccountKeys.get", false, getKey))
	e.Router.Handle(http.MethodDelete, sa+"/keys/{key}", "iam.v1.serviceAccounts.keys.delete", onKey(e, "iam.serviceAccountKeys.delete", true, deleteKey))
	e.Router.Handle(http.MethodGet, sa, "iam.v1.serviceAccounts.get", onAccount(e, "iam.serviceAccounts.get", false, func(_ *http.Request, sa *model.ServiceAccount, _ *core.NoBody) (any, *httpx.Error) {
		return saWire(sa), nil
	}))
	e.Router.Handle(http.MethodPatch, sa, "iam.v1.serviceAccounts.patch", onAccount(e, "iam.serviceAccounts.update", true, patchAccount))
	e.Router.Handle(http.MethodPut, sa, "iam.v1.serviceAccounts.update", onAccount(e, "iam.serviceAccounts.update", true, func(_ *http.Request, sa *model.ServiceAccount, in *wireSA) (any, *httpx.Error) {
		sa.DisplayName, sa.Description = in.DisplayName, in.Description
		return saWire(sa), nil
	}))
	e.Router.Handle(http.MethodDelete, sa, "iam.v1.serviceAccounts.delete", onAccount(e, "iam.serviceAccounts.delete", true, func(_ *http.Request, sa *model.ServiceAccount, _ *core.NoBody) (any, *httpx.Error) {
		return deleteAccount(e, sa), nil
	}))
	e.Router.Handle(http.MethodGet, "/v1/projects/{p}/serviceAccounts", "iam.v1.serviceAccounts.list", e.With(handleSAList))
	e.Router.Handle(http.MethodPost, "/v1/projects/{p}/serviceAccounts", "iam.v1.serviceAccounts.create", e.With(handleSACreate))
}

// wireSA is the IAM v1 ServiceAccount resource.
type wireSA struct {
	Name           string `json:"name"`
	ProjectID      string `json:"projectId"`
	UniqueID       string `json:"uniqueId"`
	Email          string `json:"email"`
	DisplayName    string `json:"displayName,omitempty"`
	Description    string `json:"description,omitempty"`
	Oauth2ClientID string `json:"oauth2ClientId"`
	Etag           string `json:"etag,omitempty"`
	Disabled       bool   `json:"disabled,omitempty"`
}

func saName(sa *model.ServiceAccount) string {
	return "projects/" + sa.ProjectID + "/serviceAccounts/" + sa.Email
}

func saWire(sa *model.ServiceAccount) *wireSA {
	return &wireSA{Name: saName(sa), ProjectID: sa.ProjectID, UniqueID: sa.UniqueID, Email: sa.Email,
		DisplayName: sa.DisplayName, Description: sa.Description, Oauth2ClientID: sa.UniqueID,
		Etag: sa.Etag, Disabled: sa.Disabled}
}

// saAuthorized authenticates r, finds the account {sa} and checks
// permission on it. A missing account is 404 to callers that hold the
// permission on the named project (or when the project is "-"), 403
// otherwise. Called with e.mu held.
func saAuthorized(e *core.Server, r *http.Request, v map[string]string, permission string) (*model.ServiceAccount, *httpx.Error) {
	principal, aerr := e.CallerLocked(r)
	if aerr != nil {
		return nil, aerr
	}
	sa := e.ServiceAccountLocked(v["sa"])
	if sa == nil {
		if proj := e.ProjectLocked(v["p"]); proj != nil && !e.PrincipalPermitted(principal, permission, proj.ID) {
			return nil, httpx.ErrPermissionDenied(permission, "projects/"+v["p"]+"/serviceAccounts/"+v["sa"])
		}
		return nil, httpx.ErrNotFound("Service account projects/%s/serviceAccounts/%s not found.", v["p"], v["sa"])
	}
	if !e.PrincipalPermitted(principal, permission, sa.ProjectID, sa.Policy.CurrentBindings()) {
		return nil, httpx.ErrPermissionDenied(permission, saName(sa))
	}
	return sa, nil
}

func handleSACreate(e *core.Server, w http.ResponseWriter, r *http.Request, v map[string]string) {
	var req struct {
		AccountID      string `json:"accountId"`
		ServiceAccount *struct {
			DisplayName string `json:"displayName"`
			Description string `json:"description"`
		} `json:"serviceAccount"`
	}
	if err := httpx.ReadJSON(r, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	e.Mu.Lock()
	defer e.Mu.Unlock()
	proj, aerr := e.RoleProjectAuthorized(r, v["p"], "iam.serviceAccounts.create")
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	if len(req.AccountID) < 6 || len(req.AccountID) > 30 || !model.AccountIDRE.MatchString(req.AccountID) {
		httpx.WriteError(w, httpx.ErrInvalid("Invalid account ID %q: it must be 6 to 30 characters, start with a lower case letter, and contain only lower case letters, digits and dashes (not at the end).", req.AccountID))
		return
	}
	email := req.AccountID + "@" + proj.ID + ".iam.gserviceaccount.com"
	if old := e.St.ServiceAccounts[email]; old != nil && !old.Deleted {
		httpx.WriteError(w, httpx.ErrAlreadyExists("Service account %s already exists within project projects/%s.", req.AccountID, proj.ID))
		return
	}
	sa := &model.ServiceAccount{ProjectID: proj.ID, AccountID: req.AccountID, Email: email,
		UniqueID: e.NewUniqueIDLocked(), Etag: "MDEwMjE5MjA=", Keys: map[string]*model.SAKey{}}
	if req.ServiceAccount != nil {
		sa.DisplayName = req.ServiceAccount.DisplayName
		sa.Description = req.ServiceAccount.Description
	}
	// A re-created account is a new identity: it replaces the deleted
	// record, whose deleted: bindings keep naming the old uniqueId.
	e.St.ServiceAccounts[email] = sa
	e.SaveAndWrite(w, saWire(sa))
}

func handleSAList(e *core.Server, w http.ResponseWriter, r *http.Request, v map[string]string) {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	proj, aerr := e.RoleProjectAuthorized(r, v["p"], "iam.serviceAccounts.list")
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	var emails []string
	for email, sa := range e.St.ServiceAccounts {
		if sa.ProjectID == proj.ID && !sa.Deleted {
			emails = append(emails, email)
		}
	}
	sort.Strings(emails)
	httpx.WritePage(w, r, "accounts", len(emails), httpx.Paging{Default: 20, Max: 100}, func(i int) any {
		return saWire(e.St.ServiceAccounts[emails[i]])
	})
}

// rewriteDeletedMemberLocked replaces serviceAccount:email with
// deleted:serviceAccount:email?uid=uid in every policy (projects, accounts,
// Cloud Run services; current and previous bindings) and group. Changed
// policies get a new etag. Called with e.mu held.
func rewriteDeletedMemberLocked(e *core.Server, email, uid string) {
	from := "serviceAccount:" + strings.ToLower(email)
	to := "deleted:serviceAccount:" + strings.ToLower(email) + "?uid=" + uid
	rewrite := func(ms []string) bool {
		changed := false
		for i, m := range ms {
			if strings.EqualFold(m, from) {
				ms[i] = to
				changed = true
			}
		}
		return changed
	}
	fix := func(p *model.Policy) {
		if p == nil {
			return
		}
		changed := false
		for _, b := range p.Bindings {
			changed = rewrite(b.Members) || changed
		}
		for _, b := range p.PrevBindings {
			rewrite(b.Members)
		}
		if changed {
			p.Etag = model.NewEtag()
		}
	}
	for _, p := range e.St.Projects {
		fix(p.Policy)
	}
	for _, sa := range e.St.ServiceAccounts {
		fix(sa.Policy)
	}
	for _, s := range e.St.Services {
		fix(s.Policy)
	}
	for _, ms := range e.St.Groups {
		rewrite(ms)
	}
}

// saIamResource is the lookup for the account policy handlers.
func saIamResource(e *core.Server, v map[string]string) func() (*core.IAMResource, *httpx.Error) {
	return func() (*core.IAMResource, *httpx.Error) {
		sa := e.ServiceAccountLocked(v["sa"])
		if sa == nil {
			return nil, httpx.ErrNotFound("Service account projects/%s/serviceAccounts/%s not found.", v["p"], v["sa"])
		}
		return &core.IAMResource{Name: saName(sa), ProjectID: sa.ProjectID, Policy: &sa.Policy,
			GetPermission: "iam.serviceAccounts.getIamPolicy", SetPermission: "iam.serviceAccounts.setIamPolicy"}, nil
	}
}

// ---- keys ----

// wireKey is the IAM v1 ServiceAccountKey resource.
type wireKey struct {
	Name            string `json:"name"`
	PrivateKeyType  string `json:"privateKeyType,omitempty"`
	KeyAlgorithm    string `json:"keyAlgorithm"`
	PrivateKeyData  string `json:"privateKeyData,omitempty"`
	PublicKeyData   string `json:"publicKeyData,omitempty"`
	ValidAfterTime  string `json:"validAfterTime"`
	ValidBeforeTime string `json:"validBeforeTime"`
	KeyOrigin       string `json:"keyOrigin"`
	KeyType         string `json:"keyType"`
	Disabled        bool   `json:"disabled,omitempty"`
}

func keyWire(sa *model.ServiceAccount, k *model.SAKey) *wireKey {
	alg := k.Algorithm
	if alg == "" {
		alg = "KEY_ALG_RSA_2048"
	}
	return &wireKey{Name: saName(sa) + "/keys/" + k.ID, KeyAlgorithm: alg,
		ValidAfterTime: k.ValidAfter.UTC().Format(time.RFC3339), ValidBeforeTime: k.ValidBefore.UTC().Format(time.RFC3339),
		KeyOrigin: k.Origin, KeyType: k.Type, Disabled: k.Disabled}
}

// KeyFile is the standard JSON key file of a service account. Its URLs
// point at the emulator; universe_domain is left out (googleapis.com by
// default), so every client posts to token_uri.
type KeyFile struct {
	Type                    string `json:"type"`
	ProjectID               string `json:"project_id"`
	PrivateKeyID            string `json:"private_key_id"`
	PrivateKey              string `json:"private_key"`
	ClientEmail             string `json:"client_email"`
	ClientID                string `json:"client_id"`
	AuthURI                 string `json:"auth_uri"`
	TokenURI                string `json:"token_uri"`
	AuthProviderX509CertURL string `json:"auth_provider_x509_cert_url"`
	ClientX509CertURL       string `json:"client_x509_cert_url"`
}

func handleKeyCreate(e *core.Server, w http.ResponseWriter, r *http.Request, v map[string]string) {
	var req struct {
		PrivateKeyType string `json:"privateKeyType"`
		KeyAlgorithm   string `json:"keyAlgorithm"`
	}
	if err := httpx.ReadJSON(r, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	switch req.PrivateKeyType {
	case "", "TYPE_GOOGLE_CREDENTIALS_FILE":
	default:
		httpx.WriteError(w, httpx.ErrInvalid("Private key type %s is not supported by the emulator; use TYPE_GOOGLE_CREDENTIALS_FILE.", req.PrivateKeyType))
		return
	}
	bits := 2048
	switch req.KeyAlgorithm {
	case "", "KEY_ALG_UNSPECIFIED":
		req.KeyAlgorithm = "KEY_ALG_RSA_2048"
	case "KEY_ALG_RSA_2048":
	case "KEY_ALG_RSA_1024":
		bits = 1024
	default:
		httpx.WriteError(w, httpx.ErrInvalid("Key algorithm %s is not supported.", req.KeyAlgorithm))
		return
	}
	// Authorize first, generate the key without holding the lock, then
	// store it (the account may have changed meanwhile: look again).
	e.Mu.Lock()
	_, aerr := saAuthorized(e, r, v, "iam.serviceAccountKeys.create")
	e.Mu.Unlock()
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	now := e.Opts.Now().UTC().Truncate(time.Second)
	kp, err := core.NewKeyPair(bits, v["sa"], now, keyValidBefore)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	e.Mu.Lock()
	defer e.Mu.Unlock()
	sa, aerr := saAuthorized(e, r, v, "iam.serviceAccountKeys.create")
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	n := 0
	for _, k := range sa.Keys {
		if k.Type == "USER_MANAGED" {
			n++
		}
	}
	if n >= maxUserKeys {
		httpx.WriteError(w, httpx.ErrFailedPrecondition("Precondition check failed: the service account %s already has %d keys.", sa.Email, n))
		return
	}
	k := &model.SAKey{ID: core.RandomHex(20), PrivateKeyPEM: kp.PrivatePEM, PublicKeyPEM: kp.PublicPEM, CertPEM: kp.CertPEM,
		Algorithm: req.KeyAlgorithm, Origin: "GOOGLE_PROVIDED", Type: "USER_MANAGED", ValidAfter: now, ValidBefore: keyValidBefore}
	if sa.Keys == nil {
		sa.Keys = map[string]*model.SAKey{}
	}
	base := e.RequestBase(r)
	file, err := json.MarshalIndent(KeyFile{
		Type: "service_account", ProjectID: sa.ProjectID, PrivateKeyID: k.ID, PrivateKey: k.PrivateKeyPEM,
		ClientEmail: sa.Email, ClientID: sa.UniqueID,
		AuthURI: base + "/o/oauth2/auth", TokenURI: base + "/token",
		AuthProviderX509CertURL: base + "/oauth2/v1/certs",
		ClientX509CertURL:       base + "/robot/v1/metadata/x509/" + url.PathEscape(sa.Email),
	}, "", "  ")
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	sa.Keys[k.ID] = k
	out := keyWire(sa, k)
	out.PrivateKeyType = "TYPE_GOOGLE_CREDENTIALS_FILE"
	out.PrivateKeyData = base64.StdEncoding.EncodeToString(append(file, '\n'))
	e.SaveAndWrite(w, out)
}

// keyFor authorizes and finds the key {key} of account {sa}.
func keyFor(e *core.Server, r *http.Request, v map[string]string, permission string) (*model.ServiceAccount, *model.SAKey, *httpx.Error) {
	sa, aerr := saAuthorized(e, r, v, permission)
	if aerr != nil {
		return nil, nil, aerr
	}
	k := sa.Keys[strings.ToLower(v["key"])]
	if k == nil {
		return nil, nil, httpx.ErrNotFound("Service account key %s/keys/%s does not exist.", saName(sa), v["key"])
	}
	return sa, k, nil
}

// onAccount serves a method on the account {sa} of {p}: holding e.Mu, it
// finds the account the caller may act on with perm and answers with what
// do returns (see core.Serve; body is the decoded request body).
func onAccount[B any](e *core.Server, perm string, save bool, do func(r *http.Request, sa *model.ServiceAccount, body *B) (any, *httpx.Error)) httpx.HandlerFunc {
	return core.Serve(e, save, func(r *http.Request, v map[string]string, body *B) (any, *httpx.Error) {
		sa, aerr := saAuthorized(e, r, v, perm)
		if aerr != nil {
			return nil, aerr
		}
		return do(r, sa, body)
	})
}

// onKey serves a method on the key {key} of account {sa}, like onAccount.
func onKey(e *core.Server, perm string, save bool, do func(r *http.Request, sa *model.ServiceAccount, k *model.SAKey) (any, *httpx.Error)) httpx.HandlerFunc {
	return core.Serve(e, save, func(r *http.Request, v map[string]string, _ *core.NoBody) (any, *httpx.Error) {
		sa, k, aerr := keyFor(e, r, v, perm)
		if aerr != nil {
			return nil, aerr
		}
		return do(r, sa, k)
	})
}

// patchRequest is the body of serviceAccounts.patch.
type patchRequest struct {
	ServiceAccount *wireSA `json:"serviceAccount"`
	UpdateMask     string  `json:"updateMask"`
}

// patchAccount: {"serviceAccount": {...}, "updateMask":
// "description,display_name"} (camelCase paths accepted; an empty mask
// updates the non-empty fields).
func patchAccount(_ *http.Request, sa *model.ServiceAccount, req *patchRequest) (any, *httpx.Error) {
	in := req.ServiceAccount
	if in == nil {
		in = &wireSA{}
	}
	name, desc := sa.DisplayName, sa.Description
	if strings.TrimSpace(req.UpdateMask) == "" {
		if in.DisplayName != "" {
			name = in.DisplayName
		}
		if in.Description != "" {
			desc = in.Description
		}
	}
	for _, f := range strings.Split(req.UpdateMask, ",") {
		switch strings.TrimSpace(f) {
		case "":
		case "display_name", "displayName":
			name = in.DisplayName
		case "description":
			desc = in.Description
		default:
			return nil, httpx.ErrInvalid("Invalid update_mask path %q: allowed are display_name and description.", f)
		}
	}
	sa.DisplayName, sa.Description = name, desc
	return saWire(sa), nil
}

// deleteAccount marks the account deleted, rewrites every policy member
// naming it to deleted:serviceAccount:E?uid=U and revokes its tokens.
func deleteAccount(e *core.Server, sa *model.ServiceAccount) any {
	sa.Deleted = true
	rewriteDeletedMemberLocked(e, sa.Email, sa.UniqueID)
	for tok, at := range e.St.AccessTokens {
		if strings.EqualFold(at.Principal, "serviceAccount:"+sa.Email) {
			delete(e.St.AccessTokens, tok)
		}
	}
	return map[string]any{}
}

// setDisabled is serviceAccounts.enable (false) or disable (true).
func setDisabled(disabled bool) func(*http.Request, *model.ServiceAccount, *core.NoBody) (any, *httpx.Error) {
	return func(_ *http.Request, sa *model.ServiceAccount, _ *core.NoBody) (any, *httpx.Error) {
		sa.Disabled = disabled
		return map[string]any{}, nil
	}
}

// listKeys serves keys.list, filtered by keyTypes.
func listKeys(r *http.Request, sa *model.ServiceAccount, _ *core.NoBody) (any, *httpx.Error) {
	types := r.URL.Query()["keyTypes"]
	var keys []*wireKey
	ids := make([]string, 0, len(sa.Keys))
	for id := range sa.Keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if k := sa.Keys[id]; len(types) == 0 || slices.Contains(types, k.Type) {
			keys = append(keys, keyWire(sa, k))
		}
	}
	out := map[string]any{}
	if len(keys) > 0 {
		out["keys"] = keys
	}
	return out, nil
}

// getKey serves keys.get; publicKeyType TYPE_X509_PEM_FILE gives base64 of
// the PEM certificate, TYPE_RAW_PUBLIC_KEY base64 of the PEM public key,
// TYPE_NONE/absent no public key data.
func getKey(r *http.Request, sa *model.ServiceAccount, k *model.SAKey) (any, *httpx.Error) {
	out := keyWire(sa, k)
	switch t := r.URL.Query().Get("publicKeyType"); t {
	case "", "TYPE_NONE":
	case "TYPE_X509_PEM_FILE":
		out.PublicKeyData = base64.StdEncoding.EncodeToString([]byte(k.CertPEM))
	case "TYPE_RAW_PUBLIC_KEY":
		out.PublicKeyData = base64.StdEncoding.EncodeToString([]byte(k.PublicKeyPEM))
	default:
		return nil, httpx.ErrInvalid("Invalid publicKeyType %q.", t)
	}
	return out, nil
}

func deleteKey(_ *http.Request, sa *model.ServiceAccount, k *model.SAKey) (any, *httpx.Error) {
	delete(sa.Keys, k.ID)
	return map[string]any{}, nil
}
