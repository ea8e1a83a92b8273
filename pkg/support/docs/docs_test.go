package docs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

// markdown is README.md and every file under docs/.
func markdown(t *testing.T, root string) []string {
	t.Helper()
	files := []string{filepath.Join(root, "README.md")}
	more, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(more) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	return append(files, more...)
}

var (
	makeTarget = regexp.MustCompile("(?m)(?:^|`)make ([a-z][a-z-]*)") // in code: a backtick span or a line of a code block
	link       = regexp.MustCompile(`\]\(([^)\s]+)\)`)
)

// Every `make X` the documentation names is a target of the Makefile, so a newcomer never types one
// that does not exist.
func TestEveryMakeTargetTheDocsNameExists(t *testing.T) {
	root := testenv.RepoRoot(t)
	out, err := exec.Command("make", "-C", root, "-pRrq", ":").CombinedOutput()
	if err != nil && len(out) == 0 {
		t.Fatalf("make -p: %v", err)
	}
	targets := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(name) {
			targets[name] = true
		}
	}
	named := 0
	for _, f := range markdown(t, root) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range makeTarget.FindAllStringSubmatch(string(b), -1) {
			named++
			if !targets[m[1]] {
				t.Errorf("%s names `make %s`, which the Makefile does not have", rel(root, f), m[1])
			}
		}
	}
	if named < 5 {
		t.Fatalf("found only %d make commands in the docs: the pattern is broken", named)
	}
}

// Every relative link in the documentation resolves to a file (and an anchor to a heading there).
func TestEveryRelativeLinkResolves(t *testing.T) {
	root := testenv.RepoRoot(t)
	checked := 0
	for _, f := range markdown(t, root) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			dest := m[1]
			if strings.Contains(dest, "://") || strings.HasPrefix(dest, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(dest, "#")
			target := f
			if path != "" {
				target = filepath.Join(filepath.Dir(f), path)
			}
			checked++
			body, err := os.ReadFile(target)
			if err != nil {
				t.Errorf("%s links to %s, which does not exist", rel(root, f), dest)
				continue
			}
			if anchor != "" && !hasAnchor(string(body), anchor) {
				t.Errorf("%s links to %s: %s has no heading #%s", rel(root, f), dest, rel(root, target), anchor)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d links: the pattern is broken", checked)
	}
}

// hasAnchor reports whether markdown has a heading whose GitHub anchor is anchor.
func hasAnchor(markdown, anchor string) bool {
	for _, line := range strings.Split(markdown, "\n") {
		h, ok := strings.CutPrefix(line, "#")
		if !ok {
			continue
		}
		h = strings.ToLower(strings.TrimSpace(strings.TrimLeft(h, "#")))
		var b strings.Builder
		for _, r := range h {
			switch {
			case r == ' ' || r == '-':
				b.WriteRune('-')
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
				b.WriteRune(r)
			}
		}
		if b.String() == anchor {
			return true
		}
	}
	return false
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil {
		return r
	}
	return path
}
