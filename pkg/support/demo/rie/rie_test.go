package rie

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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

// module writes a module with BootstrapPackage holding main, so BuildWithProgress builds it in a
// moment, with nothing in the build cache for it.
func module(t *testing.T, main string) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the bootstrap is built for Linux hosts only")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool on PATH")
	}
	t.Setenv("GOWORK", "off")
	t.Setenv("GOFLAGS", "-mod=mod")
	root := t.TempDir()
	pkg := filepath.Join(root, filepath.FromSlash(BootstrapPackage))
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/fake\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "main.go"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestBuildWithProgressStreamsPackages: the go tool's -v output (the import path of each package it
// compiles) reaches the progress writer, and the bootstrap is where Build says.
func TestBuildWithProgressStreamsPackages(t *testing.T) {
	// A fresh constant, so this main package is never in the build cache and -v must name it.
	root := module(t, "package main\n\nconst built = \""+newRequestID()+"\"\n\nfunc main() { println(built) }\n")
	var progress bytes.Buffer
	bin, err := BuildWithProgress(context.Background(), root, t.TempDir(), &progress)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("bootstrap %s: %v", bin, err)
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if want := "example.com/fake/functions/responder"; lines[len(lines)-1] != want {
		t.Errorf("progress %q: want its last line to be %s", progress.String(), want)
	}
}

// TestBuildWithProgressFails: a compile error is Build's error and reaches the progress writer too.
func TestBuildWithProgressFails(t *testing.T) {
	root := module(t, "package main\n\nfunc main() { undefinedThing() }\n")
	var progress bytes.Buffer
	_, err := BuildWithProgress(context.Background(), root, t.TempDir(), &progress)
	if err == nil || !strings.Contains(err.Error(), "undefinedThing") || !strings.Contains(progress.String(), "undefinedThing") {
		t.Fatalf("err = %v, progress %q: want both to name undefinedThing", err, progress.String())
	}
}
