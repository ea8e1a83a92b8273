package demo

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/rewind-sre/rewind/pkg/demo/traffic"
)

// printer writes the story: events as lines, and the traffic as one progress line. On a terminal
// the progress line is rewritten in place under the events; elsewhere (a pipe, a CI log, the
// README) a progress line is printed only when what it says changes, and every heartbeat seconds,
// so the output stays a story rather than a scroll.
type printer struct {
	mu        sync.Mutex
	out       io.Writer
	live      bool
	start     time.Time
	line      string // the progress line on screen (live mode)
	lastShape string
	lastShown int
}

const heartbeat = 5

func newPrinter(out io.Writer, live bool, start time.Time) *printer {
	return &printer{out: out, live: live, start: start, lastShown: -heartbeat}
}

// restart counts offsets from t.
func (p *printer) restart(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start = t
}

// at formats a moment as an offset from the start: "t+07.42s".
func (p *printer) at(t time.Time) string { return fmt.Sprintf("t+%05.2fs", t.Sub(p.start).Seconds()) }

// textf prints text that is not tied to a moment (the header, setup, status, the timeline).
func (p *printer) textf(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLine()
	fmt.Fprintf(p.out, format, a...)
	p.redraw()
}

// event prints something that happened at t.
func (p *printer) event(t time.Time, format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLine()
	fmt.Fprintf(p.out, "%s  %s\n", p.at(t), fmt.Sprintf(format, a...))
	p.redraw()
}

// progress shows one complete second of traffic, labelled with its end, and the deployment that
// served most of it.
func (p *printer) progress(s traffic.Second) {
	live, most := "-", 0
	for dep, n := range s.Deployments {
		if n > most || n == most && dep < live {
			live, most = dep, n
		}
	}
	line := fmt.Sprintf("t+%02ds     2xx %3d/s  5xx %3d/s", s.Index+1, s.OK, s.Errors5xx)
	if s.Other > 0 {
		line += fmt.Sprintf("  other %d/s", s.Other)
	}
	line += fmt.Sprintf("  live=%s (%s)", live, label(live))
	shape := fmt.Sprintf("%s %t %t %t", live, s.OK > 0, s.Errors5xx > 0, s.Other > 0)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live {
		p.clearLine()
		p.line = line
		p.redraw()
		return
	}
	if shape != p.lastShape || s.Index-p.lastShown >= heartbeat {
		fmt.Fprintln(p.out, line)
		p.lastShape, p.lastShown = shape, s.Index
	}
}

// done ends live mode: the last progress line stays on screen as an ordinary line.
func (p *printer) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live && p.line != "" {
		fmt.Fprintln(p.out)
	}
	p.line = ""
	p.live = false
}

func (p *printer) clearLine() {
	if p.live && p.line != "" {
		fmt.Fprint(p.out, "\r\033[2K")
	}
}

func (p *printer) redraw() {
	if p.live && p.line != "" {
		fmt.Fprint(p.out, p.line)
	}
}

// step is one row of the timeline.
type step struct {
	what string
	at   time.Time
}

// timeline renders the incident's steps with each one's offset and the time since the step before.
func (p *printer) timeline(steps []step, notes []string) {
	var b strings.Builder
	b.WriteString("\ntimeline                                  at        since previous\n")
	var prev time.Time
	for _, s := range steps {
		if s.at.IsZero() {
			fmt.Fprintf(&b, "  %-38s  %-8s  (did not happen)\n", s.what, "-")
			continue
		}
		since := ""
		if !prev.IsZero() {
			since = "+" + ms(s.at.Sub(prev))
		}
		fmt.Fprintf(&b, "  %-38s  %s  %s\n", s.what, p.at(s.at), since)
		prev = s.at
	}
	for _, n := range notes {
		b.WriteString("  " + n + "\n")
	}
	p.textf("%s", b.String())
}

// ms writes a duration for people: "850 ms", "1.24 s".
func ms(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}
