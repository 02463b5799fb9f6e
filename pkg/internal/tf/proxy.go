package tf

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// refusingProxy is a local HTTP proxy that answers every request, CONNECT
// included, with 403 and closes the connection. Used as HTTPS_PROXY for
// Terraform against the emulator: a client that tries a hard-coded Google
// host gets an immediate, non-retryable refusal.
type refusingProxy struct {
	ln   net.Listener
	wg   sync.WaitGroup
	once sync.Once
}

func startRefusingProxy() (*refusingProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &refusingProxy{ln: ln}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// URL is the proxy's address as an HTTPS_PROXY value.
func (p *refusingProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *refusingProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		}()
	}
}

// Close stops the proxy and waits for its connections.
func (p *refusingProxy) Close() {
	p.once.Do(func() {
		p.ln.Close()
		p.wg.Wait()
	})
}
