package hostrewrite

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestTransport(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	tr, err := New(srv.URL+"/ignored", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: tr}
	tests := []struct{ in, wantPath, wantQuery string }{
		{"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a@b:generateIdToken?alt=json", "/v1/projects/-/serviceAccounts/a@b:generateIdToken", "alt=json"},
		{"http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/identity?audience=x", "/computeMetadata/v1/instance/service-accounts/default/identity", "audience=x"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", tt.in, nil)
		req.Header.Set("Metadata-Flavor", "Google")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got.URL.Path != tt.wantPath || got.URL.RawQuery != tt.wantQuery || got.Header.Get("Metadata-Flavor") != "Google" || got.Host != tr.Host {
			t.Errorf("%s arrived as %s %s?%s host %s", tt.in, got.Method, got.URL.Path, got.URL.RawQuery, got.Host)
		}
		if req.URL.Host == tr.Host {
			t.Error("the caller's request was modified")
		}
	}
	for _, bad := range []string{"", "127.0.0.1:1", "::"} {
		if _, err := New(bad, nil); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}
