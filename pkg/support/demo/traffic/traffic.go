// Package traffic drives steady HTTP traffic at a URL and counts what comes back, per second, as a
// user would see it: 2xx, 5xx, anything else, and which deployment served each request.
package traffic

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// DeploymentHeader is the response header through which the demo's backends say which deployment
// served a request (the data plane tells them; a user could not see it).
const DeploymentHeader = "X-Demo-Deployment"

// Result is one request's outcome.
type Result struct {
	Sent       time.Time
	Took       time.Duration
	Status     int    // 0 when the request failed without an answer
	Deployment string // from DeploymentHeader; "" when absent
	Err        error
}

// Received is when the answer (or the failure) came back: when the user saw it.
func (r Result) Received() time.Time { return r.Sent.Add(r.Took) }

// Class is "2xx", "5xx", or "other" (4xx, transport errors).
func (r Result) Class() string {
	switch {
	case r.Status >= 200 && r.Status < 300:
		return "2xx"
	case r.Status >= 500 && r.Status < 600:
		return "5xx"
	}
	return "other"
}

// Driver sends RPS requests a second, spread evenly, each to URL(i) for the i-th request.
type Driver struct {
	URL    func(i int) string
	RPS    int
	Client *http.Client // nil: a client with a 2s timeout
	// MaxInFlight bounds concurrent requests; when reached, ticks are skipped, not queued, as a
	// load generator with a fixed pool would. 0 means 4*RPS.
	MaxInFlight int
}

// Run sends requests until ctx ends, calls record for each result (from many goroutines) and returns
// once every request it started has finished.
func (d Driver) Run(ctx context.Context, record func(Result)) error {
	if d.RPS <= 0 || d.RPS > 10000 {
		return fmt.Errorf("traffic: %d requests per second is not between 1 and 10000", d.RPS)
	}
	client := d.Client
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second}
	}
	limit := d.MaxInFlight
	if limit <= 0 {
		limit = 4 * d.RPS
	}
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(time.Second / time.Duration(d.RPS))
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		select {
		case slots <- struct{}{}:
		default:
			continue
		}
		wg.Add(1)
		go func(url string) {
			defer wg.Done()
			defer func() { <-slots }()
			record(get(ctx, client, url))
		}(d.URL(i))
	}
}

func get(ctx context.Context, client *http.Client, url string) Result {
	r := Result{Sent: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		r.Err = err
		return r
	}
	resp, err := client.Do(req)
	r.Took = time.Since(r.Sent)
	if err != nil {
		r.Err = err
		return r
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	r.Status, r.Deployment = resp.StatusCode, resp.Header.Get(DeploymentHeader)
	return r
}

// Second is one second's counts.
type Second struct {
	Index                int // seconds since the counter's start
	OK, Errors5xx, Other int
	Deployments          map[string]int // requests served, by deployment
}

// Counter buckets results into seconds since start. It is safe for concurrent use.
type Counter struct {
	start time.Time
	mu    sync.Mutex
	secs  map[int]*Second
}

// NewCounter counts from start.
func NewCounter(start time.Time) *Counter { return &Counter{start: start, secs: map[int]*Second{}} }

// Add counts r in the second it was sent.
func (c *Counter) Add(r Result) {
	i := int(r.Sent.Sub(c.start) / time.Second)
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.secs[i]
	if s == nil {
		s = &Second{Index: i, Deployments: map[string]int{}}
		c.secs[i] = s
	}
	switch r.Class() {
	case "2xx":
		s.OK++
	case "5xx":
		s.Errors5xx++
	default:
		s.Other++
	}
	if r.Deployment != "" {
		s.Deployments[r.Deployment]++
	}
}

// Get returns a copy of second i's counts (zero counts when nothing was sent then).
func (c *Counter) Get(i int) Second {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.secs[i]
	if s == nil {
		return Second{Index: i, Deployments: map[string]int{}}
	}
	out := *s
	out.Deployments = make(map[string]int, len(s.Deployments))
	for k, v := range s.Deployments {
		out.Deployments[k] = v
	}
	return out
}

// Totals sums every second.
func (c *Counter) Totals() (ok, errors5xx, other int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.secs {
		ok, errors5xx, other = ok+s.OK, errors5xx+s.Errors5xx, other+s.Other
	}
	return ok, errors5xx, other
}
