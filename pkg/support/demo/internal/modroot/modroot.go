// Package modroot finds the Rewind checkout the demo and the sandbox run from.
package modroot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// Find is the Rewind checkout holding the working directory; outside one, its error tells the user
// to run make target from the checkout.
func Find(target string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			line, _, _ := strings.Cut(string(b), "\n")
			if strings.TrimSpace(line) == "module github.com/rewind-sre/rewind" {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the Rewind repository (no go.mod for github.com/rewind-sre/rewind above the working directory): run make " + target + " from the checkout")
		}
		dir = parent
	}
}
