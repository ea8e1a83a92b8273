package docs

import (
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

var (
	shBlock = regexp.MustCompile("(?s)```sh\n(.*?)```")
	// awsCall is one AWS CLI command in a shell line: at its start or inside $( ).
	awsCall = regexp.MustCompile(`(?:^|\$\(|&& |; )aws ([a-z0-9-]+) ([a-z0-9-]+)((?:[^)\n]|\([^)\n]*\))*)`)
	awsFlag = regexp.MustCompile(`(?:^|\s)(--[a-z0-9-]+)`)
	// newerThanTheCLI are flags AWS's API has but the CLI v2 here predates, each with the API member
	// that proves it, in the Go SDK's model: DynamoDB's UpdateTable took DeletionProtectionEnabled in
	// March 2023, after awscli 2.9.19.
	newerThanTheCLI = map[string]struct {
		input  reflect.Type
		member string
	}{
		"dynamodb update-table --no-deletion-protection-enabled": {reflect.TypeOf(dynamodb.UpdateTableInput{}), "DeletionProtectionEnabled"},
	}
	// overstrike is how `aws help` (groff) writes bold and underlined text: a character, a backspace, a character.
	overstrike = regexp.MustCompile(".\x08")
)

// TestEveryAWSCommandTheDocsPrintExists: every `aws SERVICE COMMAND --flag ...` in a sh block of the
// documentation is a command of the AWS CLI v2 on this machine, and each flag is one its help lists
// (the command's own options, or the CLI's global ones), so a reader never types a flag that does not
// exist. Continuation lines (a trailing \) are one command.
func TestEveryAWSCommandTheDocsPrintExists(t *testing.T) {
	cli := testenv.AWSCLIv2(t)
	root := testenv.RepoRoot(t)
	type use struct{ file, line string }
	uses := map[[2]string][]struct {
		use
		flags []string
	}{}
	for _, f := range markdown(t, root) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, block := range shBlock.FindAllStringSubmatch(string(b), -1) {
			for _, line := range strings.Split(strings.ReplaceAll(block[1], "\\\n", " "), "\n") {
				for _, m := range awsCall.FindAllStringSubmatch(strings.TrimSpace(line), -1) {
					var flags []string
					for _, fm := range awsFlag.FindAllStringSubmatch(m[3], -1) {
						flags = append(flags, fm[1])
					}
					k := [2]string{m[1], m[2]}
					uses[k] = append(uses[k], struct {
						use
						flags []string
					}{use{rel(root, f), strings.TrimSpace(line)}, flags})
				}
			}
		}
	}
	if len(uses) < 10 {
		t.Fatalf("found only %d distinct aws commands in the docs: the pattern is broken", len(uses))
	}
	keys := make([][2]string, 0, len(uses))
	for k := range uses {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		cmd := exec.Command(cli, k[0], k[1], "help")
		cmd.Env = append(os.Environ(), "AWS_PAGER=", "PAGER=cat", "MANPAGER=cat")
		out, err := cmd.CombinedOutput()
		help := overstrike.ReplaceAllString(string(out), "")
		if err != nil {
			t.Errorf("aws %s %s is not a command of %s: %v (used in %s: %s)", k[0], k[1], cli, err, uses[k][0].file, uses[k][0].line)
			continue
		}
		for _, u := range uses[k] {
			for _, f := range u.flags {
				if api, ok := newerThanTheCLI[k[0]+" "+k[1]+" "+f]; ok {
					if _, has := api.input.FieldByName(api.member); !has {
						t.Errorf("%s: %s: the SDK's %s has no %s either", u.file, u.line, api.input, api.member)
					}
					continue
				}
				if !regexp.MustCompile(`(^|[\s\[|])` + regexp.QuoteMeta(f) + `($|[\s\]<(])`).MatchString(help) {
					t.Errorf("%s: aws %s %s has no flag %s: %s", u.file, k[0], k[1], f, u.line)
				}
			}
		}
	}
	testenv.Figure(t, "docs: %d distinct aws commands checked against `aws help`", len(uses))
}
