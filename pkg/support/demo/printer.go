package demo

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/rewind-sre/rewind/pkg/support/demo/traffic"
)

// printer writes the story: events as lines, and the traffic as one progress line. On a terminal
// the progress line is rewritten in place under the events; elsewhere (a pipe, a CI log, the
// README) a progress line is printed only when what it says changes, and every heartbeat seconds,
// so the output stays a story rather than a scroll.
//
// Between hold and release, lines tied to a moment are kept and then printed sorted by that moment:
// the demo learns some moments (when the stage switched) only after later ones (when Rewind
// answered), and the story reads in time order.
type printer struct {
	mu        sync.Mutex
	out       io.Writer
	live      bool
	start     time.Time
	line      string // the progress line on screen (live mode)
	lastShape string
	lastShown int
	holding   bool
	held      []heldLine
}

// heldLine is a line kept by hold, with the moment it is about.
type heldLine struct {
	at   time.Time
	text string
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

// textf prints text that is not tied to a moment (the header, setup, status, the timeline). Lines
// held until now are printed first.
func (p *printer) textf(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLine()
	p.flush()
	fmt.Fprintf(p.out, format, a...)
	p.redraw()
}

// event prints something that happened at t, or keeps it while holding.
func (p *printer) event(t time.Time, format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("%s  %s\n", p.at(t), fmt.Sprintf(format, a...))
	if p.holding {
		p.held = append(p.held, heldLine{t, line})
		return
	}
	p.clearLine()
	fmt.Fprint(p.out, line)
	p.redraw()
}

// hold keeps the lines tied to a moment (events, and progress lines when not live) until release.
// On a terminal the live progress line goes on being rewritten: it is always "now".
func (p *printer) hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holding = true
}

// release prints the lines kept since hold, in the order of their moments (ties in the order they
// came), and prints lines as they come again.
func (p *printer) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLine()
	p.flush()
	p.holding = false
	p.redraw()
}

// flush writes the held lines sorted by their moments; the caller holds p.mu and has cleared the
// live line.
func (p *printer) flush() {
	sort.SliceStable(p.held, func(i, j int) bool { return p.held[i].at.Before(p.held[j].at) })
	for _, h := range p.held {
		fmt.Fprint(p.out, h.text)
	}
	p.held = p.held[:0]
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
		p.lastShape, p.lastShown = shape, s.Index
		if p.holding {
			// The line sums up the second that ends at its label.
			p.held = append(p.held, heldLine{p.start.Add(time.Duration(s.Index+1) * time.Second), line + "\n"})
			return
		}
		fmt.Fprintln(p.out, line)
	}
}

// status shows how something under way is going (the build): on a terminal as the line rewritten
// in place, elsewhere as a line of its own. clearStatus removes it from a terminal.
func (p *printer) status(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.live {
		fmt.Fprintln(p.out, line)
		return
	}
	p.clearLine()
	p.line = line
	p.redraw()
}

func (p *printer) clearStatus() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLine()
	p.line = ""
}

// done ends live mode: the last progress line stays on screen as an ordinary line. Held lines are
// printed first.
func (p *printer) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLine()
	p.flush()
	p.holding = false
	if p.live && p.line != "" {
		fmt.Fprintln(p.out, p.line)
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

// statusWidth bounds a live status line, so that it stays on one row of an 80-column terminal and
// rewriting it in place works.
const statusWidth = 79

// buildMeter turns the output of `go build -v` (the import path of each package it compiles, one a
// line) into progress: on a terminal one line rewritten every second with the time so far, the
// number of packages compiled and the one compiled last; elsewhere a line every few seconds while
// packages are being compiled. A warm build cache compiles nothing and shows nothing.
type buildMeter struct {
	p     *printer
	begin time.Time
	stop  chan struct{}
	done  chan struct{}

	mu      sync.Mutex
	partial []byte
	n       int    // packages compiled so far
	last    string // the package compiled last
}

// meterEvery is how often a meter prints a line when the output is not a terminal.
const meterEvery = 5 * time.Second

func newBuildMeter(p *printer) *buildMeter {
	m := &buildMeter{p: p, begin: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	every := time.Second
	if !p.live {
		every = meterEvery
	}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		shown := 0
		for {
			select {
			case <-m.stop:
				return
			case <-tick.C:
				n, last := m.count()
				if p.live {
					p.status(m.line(n, last, statusWidth))
				} else if n > shown {
					p.status(m.line(n, last, 0))
					shown = n
				}
			}
		}
	}()
	return m
}

// Write takes the go tool's output; it counts the lines that are import paths (compiler errors,
// "# package" headers and "go: downloading" lines are not).
func (m *buildMeter) Write(b []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.partial = append(m.partial, b...)
	for {
		i := bytes.IndexByte(m.partial, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(m.partial[:i]))
		m.partial = m.partial[i+1:]
		if isImportPath(line) {
			m.n++
			m.last = line
		}
	}
	return len(b), nil
}

func (m *buildMeter) count() (int, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n, m.last
}

// finish stops the meter, takes its line off a terminal, and says how many packages were compiled.
func (m *buildMeter) finish() int {
	close(m.stop)
	<-m.done
	m.p.clearStatus()
	n, _ := m.count()
	return n
}

// line is the progress so far, under the set-up line that says what is being built. With width > 0
// it fits in width runes: the package's path then loses its start ("…/service/dynamodb"), its end
// being what tells one package from another.
func (m *buildMeter) line(n int, last string, width int) string {
	s := fmt.Sprintf("        %d s", int(time.Since(m.begin).Seconds()))
	if n == 0 {
		return s + " so far"
	}
	s += fmt.Sprintf(", %s compiled: ", packages(n))
	room := width - len([]rune(s))
	if r := []rune(last); width > 0 && len(r) > room {
		if room < 2 {
			return strings.TrimSuffix(s, ": ")
		}
		last = "…" + string(r[len(r)-room+1:])
	}
	return s + last
}

func packages(n int) string {
	if n == 1 {
		return "1 package"
	}
	return fmt.Sprintf("%d packages", n)
}

// isImportPath reports whether a line of `go build -v` names a package.
func isImportPath(s string) bool {
	if s == "" || strings.HasPrefix(s, "#") || strings.Contains(s, ":") {
		return false
	}
	return strings.IndexFunc(s, unicode.IsSpace) < 0
}
