package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/invokerctl/invokerctl/pkg/internal/idtoken"
	"github.com/invokerctl/invokerctl/pkg/internal/pipeline"
)

// dataPlaneRun is the rate at which a service answered 200 to calls with a
// valid ID token: each call has its token verified (signature, issuer,
// expiry, audience) and run.routes.invoke evaluated through the service
// and project policies.
type dataPlaneRun struct {
	Calls   int
	Elapsed time.Duration
}

// PerSecond is the invocation rate.
func (r dataPlaneRun) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Calls) / r.Elapsed.Seconds()
}

// dataPlane calls the first service as its first caller from workers
// goroutines for duration, with one token minted through impersonation
// beforehand; workers = 1 is the sequential baseline.
func dataPlane(ctx context.Context, s Size, latency, duration time.Duration, workers int) (dataPlaneRun, error) {
	d, err := s.Declaration()
	if err != nil {
		return dataPlaneRun{}, err
	}
	e, err := startEmulator(s, false, latency)
	if err != nil {
		return dataPlaneRun{}, err
	}
	defer e.Close()
	clients, err := e.clients(ctx)
	if err != nil {
		return dataPlaneRun{}, err
	}
	g := d.Grants[0]
	svc, err := clients.Run.Projects.Locations.Services.Get(fmt.Sprintf("projects/%s/locations/%s/services/%s", project, g.Location, g.Name)).Context(ctx).Do()
	if err != nil {
		return dataPlaneRun{}, err
	}
	src, err := (&pipeline.Sources{Target: e.target, Decl: d}).For(ctx, g.Invoke.Caller)
	if err != nil {
		return dataPlaneRun{}, err
	}
	tok, err := src.Token(ctx, svc.Uri)
	if err != nil {
		return dataPlaneRun{}, err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	var calls atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				ok, err := call(ctx, client, svc.Uri, tok)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					calls.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return dataPlaneRun{}, err
	}
	return dataPlaneRun{Calls: int(calls.Load()), Elapsed: elapsed}, nil
}

// call makes one authenticated GET. ok is false for a call cut short by the
// end of the measurement; any answer but 200 is an error.
func call(ctx context.Context, c *http.Client, url string, tok idtoken.Token) (ok bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	tok.SetAuthHeader(req.Header)
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return false, nil
		}
		return false, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		if ctx.Err() != nil {
			return false, nil
		}
		return false, fmt.Errorf("data plane answered %d", resp.StatusCode)
	}
	return true, nil
}
