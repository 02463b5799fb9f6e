package core

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"sort"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// certsCacheControl is sent with every certificate document; the Go
// validator caches for max-age (contract §10).
const certsCacheControl = "public, max-age=3600, must-revalidate, no-transform"

// keyPair is a freshly generated RSA key with its PEM forms and a
// self-signed X.509 certificate.
type keyPair struct {
	Priv       *rsa.PrivateKey
	PrivatePEM string // PKCS#8
	PublicPEM  string // PKIX
	CertPEM    string
}

// NewKeyPair generates an RSA key of bits and a self-signed certificate
// for cn, valid from notBefore (minus a minute) to notAfter (default ten
// years later).
func NewKeyPair(bits int, cn string, notBefore, notAfter time.Time) (*keyPair, error) {
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	if notAfter.IsZero() {
		notAfter = notBefore.AddDate(10, 0, 0)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		Issuer:                pkix.Name{CommonName: cn},
		NotBefore:             notBefore.Add(-time.Minute).UTC(),
		NotAfter:              notAfter.UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, err
	}
	return &keyPair{
		Priv:       priv,
		PrivatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		PublicPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		CertPEM:    string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert})),
	}, nil
}

// ParsePrivateKeyPEM parses a PKCS#8 (or PKCS#1) RSA private key.
func ParsePrivateKeyPEM(s string) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return nil, errors.New("no PEM private key")
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("not an RSA key")
		}
		return rk, nil
	}
	return x509.ParsePKCS1PrivateKey(b.Bytes)
}

// ParsePublicKeyPEM parses a PKIX public key or an X.509 certificate PEM.
func ParsePublicKeyPEM(s string) (*rsa.PublicKey, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return nil, errors.New("no PEM public key")
	}
	var k any
	var err error
	if b.Type == "CERTIFICATE" {
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(b.Bytes); err == nil {
			k = c.PublicKey
		}
	} else {
		k, err = x509.ParsePKIXPublicKey(b.Bytes)
	}
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}

// jwk is one RSA key in a JWKS document: n and e unpadded base64url.
type jwk struct {
	Kty string `json:"kty"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func rsaJWK(kid string, k *rsa.PublicKey) jwk {
	return jwk{
		Kty: "RSA", Alg: "RS256", Use: "sig", Kid: kid,
		N: base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}
}

// RegisterCertRoutes registers the certificate documents (JWKS, PEM and robot x509 endpoints).
func (e *Server) RegisterCertRoutes() {
	e.Router.Handle(http.MethodGet, "/oauth2/v1/certs", "oauth2.v1.certs", e.handleCertsPEM)
	e.Router.Handle(http.MethodGet, "/oauth2/v3/certs", "oauth2.v3.certs", e.handleCertsJWKS)
	e.Router.Handle(http.MethodGet, "/robot/v1/metadata/x509/{email}", "robot.v1.metadata.x509", e.handleRobotX509)
	e.Router.Handle(http.MethodGet, "/robot/v1/metadata/jwk/{email}", "robot.v1.metadata.jwk", e.handleRobotJWK)
	e.Router.Handle(http.MethodGet, "/.well-known/openid-configuration", "oidc.openidConfiguration", e.handleOpenIDConfig)
}

// signingKIDs returns the signing key ids in a stable order.
func (e *Server) signingKIDs() []string {
	kids := make([]string, 0, len(e.Mgmt.Signers))
	for kid := range e.Mgmt.Signers {
		kids = append(kids, kid)
	}
	sort.Strings(kids)
	return kids
}

func (e *Server) handleCertsPEM(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	out := map[string]string{}
	e.Mu.Lock()
	for _, k := range e.St.SigningKeys {
		out[k.KID] = k.CertPEM
	}
	e.Mu.Unlock()
	w.Header().Set("Cache-Control", certsCacheControl)
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (e *Server) handleCertsJWKS(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	keys := []jwk{}
	for _, kid := range e.signingKIDs() {
		keys = append(keys, rsaJWK(kid, &e.Mgmt.Signers[kid].PublicKey))
	}
	w.Header().Set("Cache-Control", certsCacheControl)
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// robotKeys returns the enabled keys of a live account, sorted by id.
func (e *Server) robotKeys(email string) ([]*model.SAKey, *httpx.Error) {
	sa := e.ServiceAccountLocked(email)
	if sa == nil {
		return nil, httpx.ErrNotFound("Service account %s not found.", email)
	}
	var keys []*model.SAKey
	for _, k := range sa.Keys {
		if !k.Disabled {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ID < keys[j].ID })
	return keys, nil
}

func (e *Server) handleRobotX509(w http.ResponseWriter, r *http.Request, v map[string]string) {
	e.Mu.Lock()
	keys, aerr := e.robotKeys(v["email"])
	e.Mu.Unlock()
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	out := map[string]string{}
	for _, k := range keys {
		out[k.ID] = k.CertPEM
	}
	w.Header().Set("Cache-Control", certsCacheControl)
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (e *Server) handleRobotJWK(w http.ResponseWriter, r *http.Request, v map[string]string) {
	e.Mu.Lock()
	keys, aerr := e.robotKeys(v["email"])
	e.Mu.Unlock()
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	out := []jwk{}
	for _, k := range keys {
		pub, err := ParsePublicKeyPEM(k.PublicKeyPEM)
		if err != nil {
			httpx.WriteError(w, fmt.Errorf("key %s: %w", k.ID, err))
			return
		}
		out = append(out, rsaJWK(k.ID, pub))
	}
	w.Header().Set("Cache-Control", certsCacheControl)
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"keys": out})
}

// handleOpenIDConfig serves the discovery document. Its URLs point at the
// host the request came to, so generic OIDC verifiers that follow jwks_uri
// stay on the emulator.
func (e *Server) handleOpenIDConfig(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	base := e.RequestBase(r)
	w.Header().Set("Cache-Control", certsCacheControl)
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"issuer":                                googleIssuer,
		"authorization_endpoint":                base + "/o/oauth2/v2/auth",
		"token_endpoint":                        base + "/token",
		"userinfo_endpoint":                     base + "/v1/userinfo",
		"jwks_uri":                              base + "/oauth2/v3/certs",
		"response_types_supported":              []string{"code", "token", "id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"claims_supported":                      []string{"aud", "email", "email_verified", "exp", "iat", "iss", "sub", "azp"},
		"grant_types_supported":                 []string{"urn:ietf:params:oauth:grant-type:jwt-bearer"},
	})
}

// RequestBase is "http://{Host}" of r (the emulator's own URL when the
// request carries no Host).
func (e *Server) RequestBase(r *http.Request) string {
	if r.Host == "" {
		return e.Url
	}
	return "http://" + r.Host
}
