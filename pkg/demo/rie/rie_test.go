package rie

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// onlyGo leaves PATH with the go tool alone, so Find cannot see an installed emulator on PATH.
func onlyGo(t *testing.T) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	t.Setenv("PATH", filepath.Dir(goTool))
}

func fakeEmulator(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, Binary)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFindLooksWhereGoInstallPuts: GOPATH/bin when GOBIN is unset (the usual case), GOBIN when set.
func TestFindLooksWhereGoInstallPuts(t *testing.T) {
	onlyGo(t)
	gopath := t.TempDir()
	want := fakeEmulator(t, filepath.Join(gopath, "bin"))
	t.Setenv("GOPATH", gopath)
	t.Setenv("GOBIN", "")
	if got, err := Find(context.Background()); err != nil || got != want {
		t.Fatalf("GOPATH/bin: Find = %q, %v; want %q", got, err, want)
	}
	gobin := t.TempDir()
	want = fakeEmulator(t, gobin)
	t.Setenv("GOBIN", gobin)
	if got, err := Find(context.Background()); err != nil || got != want {
		t.Fatalf("GOBIN: Find = %q, %v; want %q", got, err, want)
	}
}

func TestFindSaysHowToInstall(t *testing.T) {
	onlyGo(t)
	t.Setenv("GOPATH", t.TempDir())
	t.Setenv("GOBIN", "")
	if _, err := Find(context.Background()); err == nil || !strings.Contains(err.Error(), InstallCommand()) {
		t.Fatalf("err = %v, want one saying %s", err, InstallCommand())
	}
}

func TestParseReport(t *testing.T) {
	logs := "START RequestId: a Version: $LATEST\n" +
		"25 Nov 2026 21:00:53,063 [INFO] (rapid) INIT REPORT(durationMs: 17.352000)\n" +
		"{\"level\":\"INFO\"}\n" +
		"END RequestId: a\n" +
		"REPORT RequestId: a\tInit Duration: 0.32 ms\tDuration: 6049.64 ms\tBilled Duration: 6050 ms\tMemory Size: 3008 MB\tMax Memory Used: 3008 MB\t\n" +
		"START RequestId: b Version: $LATEST\n" +
		"REPORT RequestId: b\tDuration: 1.42 ms\tBilled Duration: 2 ms\tMemory Size: 3008 MB\tMax Memory Used: 3008 MB\t\n"
	r, ok := parseReport(logs, "a")
	if !ok || r.Duration != 6049640*time.Microsecond || r.Init != 17352*time.Microsecond {
		t.Errorf("a: %+v %v", r, ok)
	}
	r, ok = parseReport(logs, "b")
	if !ok || r.Duration != 1420*time.Microsecond || r.Init != 0 {
		t.Errorf("b (warm): %+v %v", r, ok)
	}
	if _, ok := parseReport(logs, "c"); ok {
		t.Error("c was never invoked")
	}
}
