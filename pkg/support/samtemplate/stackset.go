package samtemplate

// CloudFormation StackSets with service-managed permissions do not run macros, the AWS::Serverless
// transform among them ("Stack sets with service-managed permissions don't currently support the use
// of macros in templates. (This includes the AWS::Include and AWS::Serverless transforms, which are
// macros hosted by CloudFormation.)", CreateStackSet, Capabilities, CAPABILITY_AUTO_EXPAND; the AWS
// CloudFormation User Guide's "Overview of CloudFormation macros" says the same). So what a StackSet is
// given is template.yaml already translated, by AWS's own SAM translator, into plain CloudFormation:
// StackSetTemplate makes it (`make package` and the tests call it, the same code).

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The parameters the translation adds: where each region's copy of the function's zip is. Lambda
// reads a function's code from a bucket in the function's own region, so a StackSet deploying to
// several regions needs one bucket per region, named CodeBucketPrefix-REGION.
const (
	ParamCodeBucketPrefix = "CodeBucketPrefix"
	ParamCodeKey          = "CodeKey"
)

// The StackSet API's limits on a template (CreateStackSet: TemplateBody at most 51,200 bytes; a
// TemplateURL's template at most 460,800 bytes).
const (
	MaxTemplateBody = 51200
	MaxTemplateURL  = 460800
)

// stackSetScript translates the template named on its command line into plain CloudFormation and
// prints it as JSON. Given no parameter values, the translator leaves parameters as references (it
// resolves only pseudo parameters it needs, with a region for AWS::Region it is told not to bake in:
// the tests check none is). The function's code is the zip in S3, one bucket per region.
const stackSetScript = `
import json, os, sys
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse
with open(sys.argv[1]) as f:
    tpl = yaml_parse(f.read())
params = tpl.setdefault("Parameters", {})
params["CodeBucketPrefix"] = {"Type": "String",
    "Description": "The buckets holding the function's zip, one a region: CodeBucketPrefix-REGION (Lambda reads code from its own region).",
    "AllowedPattern": "^[a-z0-9][a-z0-9.-]{1,47}$",
    "ConstraintDescription": "lower-case letters, digits, . and -, at most 48 (the region is added)"}
params["CodeKey"] = {"Type": "String", "Description": "The zip's key in each of those buckets (make package writes .build/rewind.zip).",
    "MinLength": 1, "MaxLength": 1024}
for r in tpl.get("Resources", {}).values():
    if r.get("Type") == "AWS::Serverless::Function":
        r.setdefault("Properties", {})["CodeUri"] = {
            "Bucket": {"Fn::Sub": "${CodeBucketPrefix}-${AWS::Region}"}, "Key": {"Ref": "CodeKey"}}
        r.get("Metadata", {}).pop("BuildMethod", None)
out = Translator(managed_policy_map={}, sam_parser=Parser()).translate(tpl, parameter_values={})
# The translator writes AWS managed policies' ARNs in the partition of the region it was told
# (arn:aws:iam::aws:policy/...); a StackSet's stacks are in whichever partition the organization is.
def partitioned(v):
    if isinstance(v, str) and v.startswith("arn:aws:iam::aws:policy/"):
        return {"Fn::Sub": "arn:${AWS::Partition}:" + v[len("arn:aws:"):]}
    if isinstance(v, list):
        return [partitioned(x) for x in v]
    if isinstance(v, dict):
        return {k: partitioned(x) for k, x in v.items()}
    return v
out = partitioned(out)
json.dump(out, sys.stdout, indent=1, sort_keys=True)
sys.stdout.write("\n")
`

// SAMInstall is how to get AWS's SAM translator.
const SAMInstall = "pip install cfn-lint (it ships AWS's SAM translator, the python package samtranslator)"

// SAMPython finds a Python that can import samtranslator: the interpreter cfn-lint runs on (its
// shebang; behind a pyenv shim, the shebang of the script pyenv runs), else python3 on PATH. The
// error lists what it tried.
func SAMPython() (string, error) {
	var candidates []string
	if script, err := exec.LookPath("cfn-lint"); err == nil {
		candidates = append(candidates, shebangPython(script)...)
		if pyenv, err := exec.LookPath("pyenv"); err == nil {
			if out, err := exec.Command(pyenv, "which", "cfn-lint").Output(); err == nil {
				candidates = append(candidates, shebangPython(strings.TrimSpace(string(out)))...)
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
			return p, nil
		}
	}
	return "", fmt.Errorf("no Python with samtranslator (tried %s): %s", strings.Join(candidates, ", "), SAMInstall)
}

// shebangPython is the Python a script's "#!" line names ("#!/path/python" or "#!/usr/bin/env python3").
func shebangPython(script string) []string {
	f, err := os.Open(script)
	if err != nil {
		return nil
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	if !s.Scan() || !strings.HasPrefix(s.Text(), "#!") {
		return nil
	}
	fields := strings.Fields(strings.TrimPrefix(s.Text(), "#!"))
	if len(fields) > 1 && filepath.Base(fields[0]) == "env" {
		fields = fields[1:]
	}
	if len(fields) > 0 && strings.HasPrefix(filepath.Base(fields[0]), "python") {
		return fields[:1]
	}
	return nil
}

// StackSetTemplate is the SAM template at path translated into the plain CloudFormation a StackSet
// with service-managed permissions deploys, as JSON: no transform, the function's code from
// CodeBucketPrefix-REGION/CodeKey. python is one SAMPython found.
func StackSetTemplate(ctx context.Context, python, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, "-c", stackSetScript, path)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("translate %s with the SAM translator: %w\n%s", path, err, stderr.String())
	}
	if _, err := Parse(stdout.Bytes()); err != nil {
		return nil, fmt.Errorf("the SAM translator's translation of %s: %w", path, err)
	}
	return stdout.Bytes(), nil
}

// ZipBootstrap writes the Lambda deployment package: one entry, "bootstrap", executable (a
// provided.al2023 function runs the file of that name), with a fixed date so the same binary makes
// the same zip.
func ZipBootstrap(bootstrap, out string) error {
	bin, err := os.ReadFile(bootstrap)
	if err != nil {
		return fmt.Errorf("zip %s: %w", bootstrap, err)
	}
	if len(bin) == 0 {
		return errors.New("zip " + bootstrap + ": empty file")
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err == nil {
		_, err = io.Copy(w, bytes.NewReader(bin))
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return fmt.Errorf("zip %s: %w", bootstrap, err)
	}
	return os.WriteFile(out, b.Bytes(), 0o644)
}
