package idtoken

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseToken(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	good := fakeJWT(t, idClaims("https://svc-abc-uc.a.run.app", "sa@p.iam.gserviceaccount.com", exp))
	list := fakeJWT(t, map[string]any{"aud": []string{"a", "b"}, "sub": "42", "exp": 1.5e9})
	tests := []struct {
		name    string
		raw     string
		wantErr bool
		aud     []string
		caller  string
		exp     time.Time
	}{
		{name: "google id token", raw: good, aud: []string{"https://svc-abc-uc.a.run.app"}, caller: "sa@p.iam.gserviceaccount.com", exp: exp},
		{name: "surrounding whitespace and bearer prefix", raw: " Bearer " + good + "\n", aud: []string{"https://svc-abc-uc.a.run.app"}, caller: "sa@p.iam.gserviceaccount.com", exp: exp},
		{name: "aud list, no email, float exp", raw: list, aud: []string{"a", "b"}, caller: "42", exp: time.Unix(1.5e9, 0).UTC()},
		{name: "two parts", raw: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0", wantErr: true},
		{name: "payload not base64", raw: "eyJhbGciOiJub25lIn0.!!!.sig", wantErr: true},
		{name: "payload not json", raw: "eyJhbGciOiJub25lIn0.bm90IGpzb24.sig", wantErr: true},
		{name: "aud a number", raw: fakeJWT(t, map[string]any{"aud": 7}), wantErr: true},
		{name: "exp a string", raw: fakeJWT(t, map[string]any{"aud": "a", "exp": "soon"}), wantErr: true},
		{name: "empty", raw: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := ParseToken(tc.raw)
			if tc.wantErr {
				if !errors.Is(err, ErrNotJWT) {
					t.Fatalf("err = %v, want ErrNotJWT", err)
				}
				if tc.raw != "" {
					assertNoToken(t, "error", err.Error(), tc.raw)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(tok.Audiences) != fmt.Sprint(tc.aud) || tok.Caller() != tc.caller || !tok.Expiry.Equal(tc.exp) {
				t.Fatalf("got aud=%v caller=%q exp=%v", tok.Audiences, tok.Caller(), tok.Expiry)
			}
			h := http.Header{}
			tok.SetAuthHeader(h)
			if got := h.Get("Authorization"); got != "Bearer "+strings.TrimPrefix(strings.TrimSpace(tc.raw), "Bearer ") {
				t.Fatalf("Authorization = %q", got)
			}
		})
	}
}

func TestTokenNeverRendered(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	raw := fakeJWT(t, idClaims("https://svc.a.run.app", "sa@p.iam.gserviceaccount.com", exp))
	tok, err := ParseToken(raw)
	if err != nil {
		t.Fatal(err)
	}
	type holder struct {
		Exported Token
		hidden   Token
		ptr      *Token
	}
	h := holder{Exported: tok, hidden: tok, ptr: &tok}
	var renders []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		renders = append(renders, fmt.Sprintf(verb, tok), fmt.Sprintf(verb, &tok), fmt.Sprintf(verb, h), fmt.Sprintf(verb, []Token{tok}))
	}
	renders = append(renders, tok.String(), fmt.Sprint(map[string]Token{"k": tok}))
	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	renders = append(renders, string(j))
	var buf bytes.Buffer
	for _, hnd := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(hnd).Info("minted", "token", tok, "holder", h, "ptr", &tok)
	}
	renders = append(renders, buf.String())
	for _, r := range renders {
		assertNoToken(t, "rendering", r, raw)
	}
	if !strings.Contains(string(j), Redacted) || !strings.Contains(tok.String(), "sa@p.iam.gserviceaccount.com") {
		t.Fatalf("renderings should name the caller and mark the redaction: %s / %s", j, tok.String())
	}
}

func TestTokenExpiresWithin(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tok, _ := ParseToken(fakeJWT(t, idClaims("a", "e", now.Add(10*time.Minute))))
	if tok.ExpiresWithin(now, 5*time.Minute) {
		t.Error("expires in 10m, reported within 5m")
	}
	if !tok.ExpiresWithin(now, 10*time.Minute) {
		t.Error("expires in exactly 10m, should count as within 10m")
	}
	noExp, _ := ParseToken(fakeJWT(t, map[string]any{"aud": "a"}))
	if noExp.ExpiresWithin(now, 100*time.Hour) {
		t.Error("a token without exp should not be reported as expiring")
	}
	var zero Token
	if !zero.IsZero() || tok.IsZero() {
		t.Error("IsZero wrong")
	}
	h := http.Header{}
	zero.SetAuthHeader(h)
	if h.Get("Authorization") != "" {
		t.Error("zero token set a header")
	}
}
