package samtemplate

// The checks above read the SAM template; CloudFormation deploys what AWS's SAM translator makes of
// it. These tests run that translator (samtranslator, the Python package cfn-lint ships and uses) and
// check that the memory table's Retain policies and the function's DynamoDB statement survive it.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

// translateScript translates each template named on the command line and prints the results as one
// JSON list. Given no parameter values, the translator uses each parameter's default; it needs a
// region for AWS::Region. It refuses a local CodeUri (sam build uploads the code first), so, as
// cfn-lint does, each function gets a placeholder S3 one.
const translateScript = `
import json, os, sys
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse
out = []
for path in sys.argv[1:]:
    with open(path) as f:
        tpl = yaml_parse(f.read())
    for r in tpl.get("Resources", {}).values():
        if r.get("Type") == "AWS::Serverless::Function":
            r.setdefault("Properties", {})["CodeUri"] = "s3://rewind-test/bootstrap.zip"
    out.append(Translator(managed_policy_map={}, sam_parser=Parser()).translate(tpl, parameter_values={}))
json.dump(out, sys.stdout)
`

const samTranslatorInstall = "pip install cfn-lint (it ships AWS's SAM translator, the python package samtranslator)"

// samPython finds a Python that can import samtranslator: the interpreter cfn-lint runs on (its
// shebang; behind a pyenv shim, the shebang of the script pyenv runs), else python3 on PATH.
func samPython(t *testing.T) string {
	t.Helper()
	var candidates []string
	if script, err := exec.LookPath("cfn-lint"); err == nil {
		candidates = append(candidates, interpreter(script)...)
		if pyenv, err := exec.LookPath("pyenv"); err == nil {
			if out, err := exec.Command(pyenv, "which", "cfn-lint").Output(); err == nil {
				candidates = append(candidates, interpreter(strings.TrimSpace(string(out)))...)
			}
		}
	}
	candidates = append(candidates, "python3")
	for _, c := range candidates {
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		if exec.Command(p, "-c", "import samtranslator").Run() == nil {
			return p
		}
	}
	testenv.Missing(t, "a Python with samtranslator (tried "+strings.Join(candidates, ", ")+")", samTranslatorInstall)
	return ""
}

// interpreter reads the Python a script's shebang names: "#!/path/python", "#!/usr/bin/env python3",
// or pip's form for long paths ("#!/bin/sh", then an exec line that names the Python). Else nothing.
func interpreter(script string) []string {
	f, err := os.Open(script)
	if err != nil {
		return nil
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	var lines []string
	for len(lines) < 2 && s.Scan() {
		lines = append(lines, s.Text())
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "#!") {
		return nil
	}
	fields := strings.Fields(strings.TrimPrefix(lines[0], "#!"))
	if len(fields) > 1 && filepath.Base(fields[0]) == "env" {
		fields = fields[1:]
	}
	if len(fields) > 0 && strings.HasPrefix(filepath.Base(fields[0]), "python") {
		return fields[:1]
	}
	if len(lines) < 2 {
		return nil
	}
	rest, ok := strings.CutPrefix(lines[1], "'''exec' ")
	if rest = strings.TrimSpace(rest); !ok || rest == "" {
		return nil
	}
	if q := rest[:1]; q == `"` || q == "'" { // a path with spaces is quoted
		if p, _, ok := strings.Cut(rest[1:], q); ok {
			return []string{p}
		}
		return nil
	}
	return strings.Fields(rest)[:1]
}

// translate runs the SAM translator on each template and loads what it made of them.
func translate(t *testing.T, python string, templates ...string) []*Template {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{"-c", translateScript}, templates...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the SAM translator: %v\n%s", err, stderr.String())
	}
	var docs []json.RawMessage
	if err := json.Unmarshal(stdout.Bytes(), &docs); err != nil || len(docs) != len(templates) {
		t.Fatalf("the SAM translator printed %d templates for %d (%v):\n%.2000s", len(docs), len(templates), err, stdout.String())
	}
	out := make([]*Template, len(docs))
	for i, d := range docs {
		tpl, err := Parse(d)
		if err != nil {
			t.Fatalf("the translation of %s: %v", templates[i], err)
		}
		out[i] = tpl
	}
	return out
}

// checkTranslated: in the template the SAM translator made, MemoryTable is still kept on deletion and
// replacement, the function runs as a generated AWS::IAM::Role, that role's statements that can grant
// DynamoDB actions grant exactly GetItem, PutItem and Query and name only MemoryTable's Arn, and
// nothing else in the template grants DynamoDB at all.
func checkTranslated(t *Template) []problem {
	var ps problems
	if table, ok := t.Resources[memoryTableID]; !ok || table.Type != "AWS::DynamoDB::Table" {
		ps.add(memoryTableID, "missing from the translation, or not an AWS::DynamoDB::Table")
	} else {
		for _, policy := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
			if v, _ := table.Raw[policy].(string); v != "Retain" {
				ps.add(memoryTableID, "translated %s %v: want Retain", policy, table.Raw[policy])
			}
		}
	}
	fn, ok := t.Resources[functionID]
	if !ok || fn.Type != "AWS::Lambda::Function" {
		ps.add(functionID, "the translation has no AWS::Lambda::Function %s", functionID)
		return ps
	}
	roleRef, _ := dig(fn.Properties, "Role", "Fn::GetAtt")
	role := ""
	if parts, _ := roleRef.([]any); len(parts) == 2 && parts[1] == "Arn" {
		role, _ = parts[0].(string)
	}
	if r, ok := t.Resources[role]; !ok || r.Type != "AWS::IAM::Role" {
		ps.add(functionID, "translated Role %v: want !GetAtt of the AWS::IAM::Role SAM generates", fn.Properties["Role"])
		return ps
	}
	stmts, ips := iamStatements(t)
	ps = append(ps, ips...)
	granted := map[string]bool{}
	for _, s := range stmts {
		if effect, _ := s.body["Effect"].(string); effect == "Deny" {
			continue
		}
		var dynamo []string
		for _, a := range strs(s.body["Action"]) {
			if grantsService(a, "dynamodb") {
				dynamo = append(dynamo, a)
			}
		}
		if len(dynamo) == 0 {
			continue
		}
		if !strings.HasPrefix(s.where, role+" ") {
			ps.add(s.where, "grants %v outside the function's role %s", dynamo, role)
			continue
		}
		for _, a := range dynamo {
			i := slices.IndexFunc(memoryActions, func(m string) bool { return strings.EqualFold(m, a) })
			if i < 0 {
				ps.add(s.where, "translated DynamoDB action %q: want exactly %s", a, strings.Join(memoryActions, ", "))
				continue
			}
			granted[memoryActions[i]] = true
		}
		resources := strs(s.body["Resource"])
		if len(resources) == 0 {
			ps.add(s.where, "translated DynamoDB statement without a Resource")
		}
		for _, r := range resources {
			if r != memoryTableARN {
				ps.add(s.where, "translated DynamoDB on %q: want only %s", r, memoryTableARN)
			}
		}
	}
	for _, a := range memoryActions {
		if !granted[a] {
			ps.add(role, "the translated role does not grant %s on %s", a, memoryTableARN)
		}
	}
	return ps
}

// TestSAMTranslatorKeepsTheMemoryTableAndItsStatement: what CloudFormation deploys keeps MemoryTable on
// stack deletion and replacement, and the function's generated role holds exactly the DynamoDB
// statement the template wrote, on the table's Arn only. The table's own settings pass through too.
func TestSAMTranslatorKeepsTheMemoryTableAndItsStatement(t *testing.T) {
	translated := translate(t, samPython(t), templatePath)[0]
	report(t, checkTranslated(translated))
	report(t, checkMemoryTable(translated))
}

// TestSAMTranslatorCheckCatchesABrokenCopy proves checkTranslated can fail: each broken copy is
// translated and must be reported.
func TestSAMTranslatorCheckCatchesABrokenCopy(t *testing.T) {
	python := samPython(t)
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, old, new, want string }{
		{"no UpdateReplacePolicy", memoryPolicies, strings.Replace(memoryPolicies, "    UpdateReplacePolicy: Retain\n", "", 1), "UpdateReplacePolicy <nil>"},
		{"deleted with the stack", memoryPolicies, strings.Replace(memoryPolicies, "DeletionPolicy: Retain", "DeletionPolicy: Delete", 1), "DeletionPolicy Delete"},
		{"every table", memoryResource, "              Resource: \"*\"\n", `DynamoDB on "*"`},
		{"Scan too", "                - dynamodb:Query\n", "                - dynamodb:Query\n                - dynamodb:Scan\n", `action "dynamodb:Scan"`},
		{"no PutItem", "                - dynamodb:PutItem\n", "", "does not grant dynamodb:PutItem"},
	}
	dir := t.TempDir()
	var paths []string
	for _, c := range cases {
		if n := strings.Count(string(orig), c.old); n != 1 {
			t.Fatalf("%s: mutation out of date: %q occurs %d times in the template, want 1", c.name, c.old, n)
		}
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".yaml")
		if err := os.WriteFile(p, []byte(strings.Replace(string(orig), c.old, c.new, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for i, tpl := range translate(t, python, paths...) {
		c := cases[i]
		ps := checkTranslated(tpl)
		if !slices.ContainsFunc(ps, func(p problem) bool { return strings.Contains(p.String(), c.want) }) {
			t.Errorf("%s: checkTranslated did not report %q; it reported %v", c.name, c.want, ps)
		}
	}
}

func TestInterpreterReadsTheShebang(t *testing.T) {
	dir := t.TempDir()
	for script, want := range map[string]string{
		"#!/opt/py/bin/python\nimport cfnlint\n":                              "/opt/py/bin/python",
		"#!/usr/bin/env python3\n":                                            "python3",
		"#!/bin/sh\n'''exec' \"/a/long path/bin/python3.11\" \"$0\" \"$@\"\n": "/a/long path/bin/python3.11",
		"#!/usr/bin/env bash\nexec pyenv exec cfn-lint\n":                     "",
		"print('no shebang')\n":                                               "",
	} {
		p := filepath.Join(dir, "cfn-lint")
		if err := os.WriteFile(p, []byte(script), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(interpreter(p), " "); got != want {
			t.Errorf("interpreter(%q) = %q, want %q", script, got, want)
		}
	}
}
