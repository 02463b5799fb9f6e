package tf

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// A client sent through the refusing proxy to a hard-coded https:// Google
// host fails at once, with an error no retry loop treats as temporary.
func TestRefusingProxy(t *testing.T) {
	p, err := startRefusingProxy()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	u, _ := url.Parse(p.URL())
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u)}, Timeout: 10 * time.Second}
	start := time.Now()
	_, err = c.Get("https://openidconnect.googleapis.com/v1/userinfo")
	if err == nil {
		t.Fatal("request through the refusing proxy succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusal took %v", d)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("refusal looks like a timeout: %v", err)
	}
	p.Close()
	p.Close() // idempotent
}
