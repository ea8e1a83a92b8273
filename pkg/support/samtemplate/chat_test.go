package samtemplate

// The optional chat channels (AWS Chatbot, now Amazon Q Developer in chat applications): subscribed
// to NotifyTopic only; their role and guardrail allow exactly lambda:InvokeFunction and
// lambda:GetFunction on Rewind's own function; their commands fit AWS's limits and change nothing.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rewind-sre/rewind/pkg/rollback"
)

// chatActions are everything a chat channel may do through AWS, on functionARN only.
var chatActions = []string{"lambda:GetFunction", "lambda:InvokeFunction"}

// AWS Chatbot's limits (the API reference: CustomActionDefinition.CommandText 1..100 characters,
// https://docs.aws.amazon.com/chatbot/latest/APIReference/API_CustomActionDefinition.html;
// CreateCustomAction: ActionName [a-zA-Z0-9_-]{1,64}, AliasName [A-Za-z0-9-_]{1,30},
// https://docs.aws.amazon.com/chatbot/latest/APIReference/API_CreateCustomAction.html). CloudFormation's
// resource schema allows a CommandText of 5000; the API's 100 is the limit that holds.
const (
	maxCommandText = 100
	maxAliasName   = 30
	maxActionName  = 64
)

var (
	aliasName  = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	actionName = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
)

// commandPrefix is how every chat command begins: it invokes Rewind and nothing else.
const commandPrefix = "lambda invoke --function-name ${" + functionID + "} --payload "

var chatConfigs = map[string]struct {
	condition string
	params    map[string]string // property -> the parameter it must be
}{
	"AWS::Chatbot::SlackChannelConfiguration": {"HasSlack",
		map[string]string{"SlackWorkspaceId": "${SlackWorkspaceId}", "SlackChannelId": "${SlackChannelId}"}},
	"AWS::Chatbot::MicrosoftTeamsChannelConfiguration": {"HasTeams",
		map[string]string{"TeamsTenantId": "${TeamsTenantId}", "TeamId": "${TeamsId}", "TeamsChannelId": "${TeamsChannelId}"}},
}

// readOnly are the actions that never write, whatever their dryRun: a chat command may run them as they are.
var readOnly = map[rollback.Action]bool{rollback.ActionStatus: true, rollback.ActionCheck: true}

// policyGrants checks the statements of one policy (a role's, or a guardrail's): every Allow grants
// only chatActions, on functionARN only, and together they grant both.
func policyGrants(where string, stmts []statement, ps *problems) {
	granted := map[string]bool{}
	for _, s := range stmts {
		if effect, _ := s.body["Effect"].(string); effect == "Deny" {
			continue
		}
		for _, k := range []string{"NotAction", "NotResource"} {
			if _, ok := s.body[k]; ok {
				ps.add(s.where, "%s grants everything else: a chat channel may do %s only", k, strings.Join(chatActions, " and "))
			}
		}
		for _, a := range strs(s.body["Action"]) {
			i := slices.IndexFunc(chatActions, func(c string) bool { return strings.EqualFold(c, a) })
			if i < 0 {
				ps.add(s.where, "action %q: a chat channel may do exactly %s", a, strings.Join(chatActions, " and "))
				continue
			}
			granted[chatActions[i]] = true
		}
		resources := strs(s.body["Resource"])
		if len(resources) == 0 {
			ps.add(s.where, "no Resource: want %s", functionARN)
		}
		for _, r := range resources {
			if r != functionARN {
				ps.add(s.where, "Resource %q: a chat channel may only read and invoke %s", r, functionARN)
			}
		}
	}
	for _, a := range chatActions {
		if !granted[a] {
			ps.add(where, "does not grant %s on %s: the channel could not run Rewind's commands", a, functionARN)
		}
	}
}

// ownPolicy returns the statements of the template's AWS::IAM::ManagedPolicy that ref (${Name})
// names, or false when it names something else.
func ownPolicy(t *Template, ref string, ps *problems) ([]statement, bool) {
	name := strings.TrimSuffix(strings.TrimPrefix(ref, "${"), "}")
	r, ok := t.Resources[name]
	if !ok || r.Type != "AWS::IAM::ManagedPolicy" || ref != "${"+name+"}" {
		return nil, false
	}
	return docValueStatements(name+" PolicyDocument", r.Properties["PolicyDocument"], ps), true
}

// checkChat: every channel configuration exists only with its parameters, receives NotifyTopic and
// nothing else, runs as a role that only AWS Chatbot may assume and whose permissions, like each of
// its guardrails, are exactly chatActions on the function, and offers every custom action.
func checkChat(t *Template) []problem {
	var ps problems
	var customActions []string
	for _, name := range t.ResourceNames() {
		if t.Resources[name].Type == "AWS::Chatbot::CustomAction" {
			customActions = append(customActions, "${"+name+".CustomActionArn}")
		}
	}
	found, roles := map[string]bool{}, map[string]bool{}
	for _, name := range t.ResourceNames() {
		r := t.Resources[name]
		want, ok := chatConfigs[r.Type]
		if !ok {
			continue
		}
		found[r.Type] = true
		p := r.Properties
		if r.Condition != want.condition {
			ps.add(name, "Condition %q: want %s (a channel only when its parameters are set)", r.Condition, want.condition)
		}
		for prop, param := range want.params {
			if got := render(p[prop]); len(got) != 1 || got[0] != param {
				ps.add(name, "%s %v: want %s", prop, got, param)
			}
		}
		if topics := strs(p["SnsTopicArns"]); len(topics) != 1 || topics[0] != "${"+notifyTopic+"}" {
			ps.add(name, "SnsTopicArns %v: want only ${%s} (never %s)", topics, notifyTopic, alarmTopic)
		}
		if required, ok := p["UserRoleRequired"].(bool); ok && required {
			ps.add(name, "UserRoleRequired: the channel role, not each user's own, is what is checked here")
		}
		role := strs(p["IamRoleArn"])
		roleName := ""
		if len(role) == 1 && strings.HasSuffix(role[0], ".Arn}") {
			roleName = strings.TrimSuffix(strings.TrimPrefix(role[0], "${"), ".Arn}")
		}
		if rr, ok := t.Resources[roleName]; !ok || rr.Type != "AWS::IAM::Role" {
			ps.add(name, "IamRoleArn %v: want !GetAtt of the template's chat channel role", role)
		} else if !roles[roleName] {
			roles[roleName] = true
			checkChatRole(t, roleName, &ps)
		}
		guardrails := strs(p["GuardrailPolicies"])
		if len(guardrails) == 0 {
			ps.add(name, "no GuardrailPolicies: without one, the channel's limit is only its role")
		}
		for _, g := range guardrails {
			stmts, own := ownPolicy(t, g, &ps)
			if !own {
				ps.add(name, "guardrail %q: want the template's own AWS::IAM::ManagedPolicy, so it can be checked", g)
				continue
			}
			policyGrants(name+" guardrail "+g, stmts, &ps)
		}
		offered := strs(p["CustomizationResourceArns"])
		for _, a := range customActions {
			if !slices.Contains(offered, a) {
				ps.add(name, "CustomizationResourceArns lacks %s", a)
			}
		}
	}
	for typ := range chatConfigs {
		if !found[typ] {
			ps.add(typ, "no such resource: the template offers this chat channel")
		}
	}
	return ps
}

// checkChatRole: only AWS Chatbot may assume the role, and what it may do is exactly chatActions on
// the function (its inline policies and its template-made managed policies; no other managed policy).
func checkChatRole(t *Template, name string, ps *problems) {
	r := t.Resources[name]
	if r.Condition != "HasChat" {
		ps.add(name, "Condition %q: want HasChat", r.Condition)
	}
	trust := docValueStatements(name+" AssumeRolePolicyDocument", r.Properties["AssumeRolePolicyDocument"], ps)
	for _, s := range trust {
		if effect, _ := s.body["Effect"].(string); effect == "Deny" {
			continue
		}
		principal, _ := s.body["Principal"].(map[string]any)
		for _, k := range sortedKeys(principal) {
			if k != "Service" {
				ps.add(s.where, "principal type %s: only AWS Chatbot (Service chatbot.amazonaws.com) may assume the role", k)
			}
		}
		services := strs(principal["Service"])
		if len(services) == 0 {
			ps.add(s.where, "principal %v: want Service chatbot.amazonaws.com", s.body["Principal"])
		}
		for _, svc := range services {
			if svc != "chatbot.amazonaws.com" {
				ps.add(s.where, "service principal %q: only chatbot.amazonaws.com may assume the role", svc)
			}
		}
		for _, a := range strs(s.body["Action"]) {
			if a != "sts:AssumeRole" {
				ps.add(s.where, "trust action %q: want sts:AssumeRole", a)
			}
		}
	}
	var stmts []statement
	for i, p := range flatten(r.Properties["Policies"]) {
		pm, _ := p.(map[string]any)
		stmts = append(stmts, docValueStatements(fmt.Sprintf("%s Policies[%d]", name, i), pm["PolicyDocument"], ps)...)
	}
	for _, arn := range strs(r.Properties["ManagedPolicyArns"]) {
		own, ok := ownPolicy(t, arn, ps)
		if !ok {
			ps.add(name, "managed policy %q: the chat role holds the template's own policies only", arn)
			continue
		}
		stmts = append(stmts, own...)
	}
	for _, k := range []string{"PermissionsBoundary"} {
		if _, ok := r.Properties[k]; ok {
			ps.add(name, "%s: not needed, and not checked here", k)
		}
	}
	policyGrants(name, stmts, ps)
}

// checkCustomActions: every command exists only with a chat channel, invokes Rewind and nothing else,
// asks for a status or a dry run (never a change), and fits AWS's limits with the longest function
// name the template allows (and a chat channel requires).
func checkCustomActions(t *Template) []problem {
	var ps problems
	fnParam, _ := t.Parameters["FunctionName"].(map[string]any)
	maxName, ok := asInt(fnParam["MaxLength"])
	if !ok {
		ps.add("FunctionName", "parameter missing or without MaxLength: the commands' length cannot be bounded")
		return ps
	}
	longest := strings.Repeat("f", int(maxName))
	if fn, _ := functionProps(t); fn != nil {
		if got := render(fn["FunctionName"]); !slices.Equal(got, []string{"${FunctionName}"}) {
			ps.add(functionID, "FunctionName renders %v: want !If [HasFunctionName, !Ref FunctionName, !Ref AWS::NoValue]", got)
		}
	}
	if !requiresFunctionName(t) {
		ps.add("Rules", "no rule asserts FunctionName is set whenever a chat parameter is: the commands' length would be unbounded")
	}
	fill := func(s string) string {
		// ap-southeast-5 is as long as a region name gets (14 characters; ActionName carries the region).
		return strings.NewReplacer("${"+functionID+"}", longest, "${FunctionName}", longest, "${AWS::Region}", "ap-southeast-5").Replace(s)
	}
	aliases := map[string]rollback.Action{}
	for _, name := range t.ResourceNames() {
		r := t.Resources[name]
		if r.Type != "AWS::Chatbot::CustomAction" {
			continue
		}
		if r.Condition != "HasChat" {
			ps.add(name, "Condition %q: want HasChat (commands only with a chat channel)", r.Condition)
		}
		for _, c := range []struct {
			prop string
			max  int
			re   *regexp.Regexp
		}{{"ActionName", maxActionName, actionName}, {"AliasName", maxAliasName, aliasName}} {
			for _, v := range render(r.Properties[c.prop]) {
				if f := fill(v); len(f) > c.max || !c.re.MatchString(f) {
					ps.add(name, "%s %q (%d characters with a %d-character function name): want %s, at most %d", c.prop, f, len(f), maxName, c.re, c.max)
				}
			}
		}
		def, _ := r.Properties["Definition"].(map[string]any)
		texts := render(def["CommandText"])
		if len(texts) != 1 {
			ps.add(name, "CommandText renders %d ways, want 1", len(texts))
			continue
		}
		text := texts[0]
		if n := len(fill(text)); n > maxCommandText {
			ps.add(name, "CommandText is %d characters with a %d-character function name: AWS Chatbot allows %d", n, maxName, maxCommandText)
		}
		payload, ok := strings.CutPrefix(text, commandPrefix)
		if !ok {
			ps.add(name, "CommandText %q: want %q and a payload (Rewind's function, nothing else)", text, commandPrefix)
			continue
		}
		var cmd struct {
			Action rollback.Action `json:"action"`
			DryRun *bool           `json:"dryRun"`
		}
		dec := json.NewDecoder(strings.NewReader(payload))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cmd); err != nil || dec.More() {
			ps.add(name, "payload %s: want one JSON object of action and dryRun (%v)", payload, err)
			continue
		}
		if !slices.Contains(rollback.Actions, cmd.Action) {
			ps.add(name, "action %q: not one of Rewind's %v", cmd.Action, rollback.Actions)
		}
		if !readOnly[cmd.Action] && (cmd.DryRun == nil || !*cmd.DryRun) {
			ps.add(name, "action %q without \"dryRun\":true: a chat command is a status, a check or a dry run, never a change", cmd.Action)
		}
		for _, a := range render(r.Properties["AliasName"]) {
			aliases[a] = cmd.Action
		}
	}
	for suffix, action := range map[string]rollback.Action{"-status": rollback.ActionStatus, "-rollback": rollback.ActionRollback, "-check": rollback.ActionCheck} {
		ok := false
		for a, got := range aliases {
			if strings.HasSuffix(a, suffix) && (action == "" || got == action) {
				ok = true
			}
		}
		if !ok {
			ps.add("AWS::Chatbot::CustomAction", "no %s command%s", suffix, map[bool]string{true: " running " + string(action)}[action != ""])
		}
	}
	return ps
}

// requiresFunctionName: some rule asserts FunctionName is not empty, under a condition that names
// every chat parameter.
func requiresFunctionName(t *Template) bool {
	rules, _ := t.Doc["Rules"].(map[string]any)
	for _, name := range sortedKeys(rules) {
		rule, _ := rules[name].(map[string]any)
		cond, _ := json.Marshal(rule["RuleCondition"])
		asserts, _ := json.Marshal(rule["Assertions"])
		if !strings.Contains(string(asserts), `{"Fn::Not":[{"Fn::Equals":[{"Ref":"FunctionName"},""]}]}`) {
			continue
		}
		all := true
		for _, p := range []string{"SlackWorkspaceId", "SlackChannelId", "TeamsTenantId", "TeamsId", "TeamsChannelId"} {
			all = all && strings.Contains(string(cond), `{"Ref":"`+p+`"}`)
		}
		if all {
			return true
		}
	}
	return false
}

func TestTemplateChatChannelsReadAndInvokeRewindOnly(t *testing.T) { report(t, checkChat(loadReal(t))) }

func TestTemplateChatCommandsFitAndChangeNothing(t *testing.T) {
	report(t, checkCustomActions(loadReal(t)))
}

const (
	chatPolicyActions = "            Action:\n              - lambda:InvokeFunction\n              - lambda:GetFunction\n            Resource: !GetAtt ResponderFunction.Arn\n"
	slackTopics       = "      SlackChannelId: !Ref SlackChannelId\n      IamRoleArn: !GetAtt ChatChannelRole.Arn\n      GuardrailPolicies:\n        - !Ref ChatChannelPolicy\n      SnsTopicArns:\n        - !Ref NotifyTopic\n"
	teamsGuardrail    = "      TeamsChannelId: !Ref TeamsChannelId\n      IamRoleArn: !GetAtt ChatChannelRole.Arn\n      GuardrailPolicies:\n        - !Ref ChatChannelPolicy\n"
	rollbackCommand   = `        CommandText: !Sub 'lambda invoke --function-name ${ResponderFunction} --payload {"action":"rollback","dryRun":true}'`
)

func chatMutations() []mutation {
	return []mutation{
		{name: "the channel may change the code", check: checkChat, want: `action "lambda:UpdateFunctionCode"`,
			edits: [][2]string{{chatPolicyActions, strings.Replace(chatPolicyActions, "              - lambda:GetFunction\n", "              - lambda:GetFunction\n              - lambda:UpdateFunctionCode\n", 1)}}},
		{name: "every function", check: checkChat, want: `Resource "*"`,
			edits: [][2]string{{chatPolicyActions, strings.Replace(chatPolicyActions, "!GetAtt ResponderFunction.Arn", `"*"`, 1)}}},
		{name: "invoke only", check: checkChat, want: "does not grant lambda:GetFunction",
			edits: [][2]string{{chatPolicyActions, strings.Replace(chatPolicyActions, "              - lambda:GetFunction\n", "", 1)}}},
		{name: "NotAction", check: checkChat, want: "NotAction grants everything else",
			edits: [][2]string{{chatPolicyActions, strings.Replace(chatPolicyActions, "            Action:\n", "            NotAction:\n", 1)}}},
		{name: "the alarm topic in Slack", check: checkChat, want: "SlackChannel: SnsTopicArns [${AlarmTopic}]",
			edits: [][2]string{{slackTopics, strings.Replace(slackTopics, "        - !Ref NotifyTopic\n", "        - !Ref AlarmTopic\n", 1)}}},
		{name: "both topics in Slack", check: checkChat, want: "want only ${NotifyTopic}",
			edits: [][2]string{{slackTopics, slackTopics + "        - !Ref AlarmTopic\n"}}},
		{name: "Teams without a guardrail", check: checkChat, want: "TeamsChannel: no GuardrailPolicies",
			edits: [][2]string{{teamsGuardrail, strings.Replace(teamsGuardrail, "      GuardrailPolicies:\n        - !Ref ChatChannelPolicy\n", "", 1)}}},
		{name: "an AWS managed guardrail", check: checkChat, want: "want the template's own AWS::IAM::ManagedPolicy",
			edits: [][2]string{{teamsGuardrail, strings.Replace(teamsGuardrail, "        - !Ref ChatChannelPolicy\n", "        - arn:aws:iam::aws:policy/ReadOnlyAccess\n", 1)}}},
		{name: "Slack as the function's role", check: checkChat, want: "SlackChannel: IamRoleArn [${ResponderFunctionRole.Arn}]",
			edits: [][2]string{{slackTopics, strings.Replace(slackTopics, "!GetAtt ChatChannelRole.Arn", "!GetAtt ResponderFunctionRole.Arn", 1)}}},
		{name: "anyone may assume the role", check: checkChat, want: "principal type AWS",
			edits: [][2]string{{"            Principal:\n              Service: chatbot.amazonaws.com\n", "            Principal:\n              AWS: \"*\"\n"}}},
		{name: "Lambda may assume the role", check: checkChat, want: `service principal "lambda.amazonaws.com"`,
			edits: [][2]string{{"              Service: chatbot.amazonaws.com\n", "              Service: [chatbot.amazonaws.com, lambda.amazonaws.com]\n"}}},
		{name: "an AWS managed policy on the role", check: checkChat, want: `managed policy "arn:aws:iam::aws:policy/AWSLambda_FullAccess"`,
			edits: [][2]string{{"      ManagedPolicyArns:\n        - !Ref ChatChannelPolicy\n", "      ManagedPolicyArns:\n        - !Ref ChatChannelPolicy\n        - arn:aws:iam::aws:policy/AWSLambda_FullAccess\n"}}},
		{name: "Slack always", check: checkChat, want: "want HasSlack",
			edits: [][2]string{{"    Type: AWS::Chatbot::SlackChannelConfiguration\n    Condition: HasSlack\n", "    Type: AWS::Chatbot::SlackChannelConfiguration\n"}}},
		{name: "Teams without the check command", check: checkChat, want: "TeamsChannel: CustomizationResourceArns lacks ${ChatCheckAction.CustomActionArn}",
			edits: [][2]string{{"        - !GetAtt ChatCheckAction.CustomActionArn\n        - !GetAtt ChatRollbackDryRunAction.CustomActionArn\n\n  # Example alarms", "        - !GetAtt ChatRollbackDryRunAction.CustomActionArn\n\n  # Example alarms"}}},
		// The same statements through checkIAM: InvokeFunction only on the function itself.
		{name: "invoke any function (checkIAM)", check: checkIAM, want: `lambda:InvokeFunction on "*": lambda writes may only name ${ResponderFunction.Arn}`,
			edits: [][2]string{{chatPolicyActions, strings.Replace(chatPolicyActions, "!GetAtt ResponderFunction.Arn", `"*"`, 1)}}},
		{name: "an outside managed policy on the chat role (checkIAM)", check: checkIAM, want: "ChatChannelRole ManagedPolicyArns: managed policy",
			edits: [][2]string{{"      ManagedPolicyArns:\n        - !Ref ChatChannelPolicy\n", "      ManagedPolicyArns:\n        - !Ref ChatChannelPolicy\n        - arn:aws:iam::aws:policy/AWSLambda_FullAccess\n"}}},
	}
}

func commandMutations() []mutation {
	return []mutation{
		{name: "a command over 100 characters", check: checkCustomActions, want: "ChatRollbackDryRunAction: CommandText is 117 characters",
			edits: [][2]string{{rollbackCommand, strings.Replace(rollbackCommand, `"dryRun":true}`, `"dryRun":true,"reason":"from chat"}`, 1)}}},
		{name: "a real rollback from the channel", check: checkCustomActions, want: `action "rollback" without "dryRun":true`,
			edits: [][2]string{{rollbackCommand, strings.Replace(rollbackCommand, `"dryRun":true`, `"dryRun":false`, 1)}}},
		{name: "another function", check: checkCustomActions, want: "Rewind's function, nothing else",
			edits: [][2]string{{rollbackCommand, strings.Replace(rollbackCommand, "${ResponderFunction}", "${LambdaFunctionName}", 1)}}},
		{name: "an action Rewind has not", check: checkCustomActions, want: `action "explode"`,
			edits: [][2]string{{`--payload {"action":"status"}'`, `--payload {"action":"explode","dryRun":true}'`}}},
		{name: "a longer function name", check: checkCustomActions, want: "AliasName",
			edits: [][2]string{{"    MaxLength: 20\n    AllowedPattern: \"^[A-Za-z0-9_-]*$\"\n", "    MaxLength: 40\n    AllowedPattern: \"^[A-Za-z0-9_-]*$\"\n"}}},
		{name: "no rule requires the name", check: checkCustomActions, want: "no rule asserts FunctionName",
			edits: [][2]string{{"      - Assert: !Not [!Equals [!Ref FunctionName, \"\"]]\n", "      - Assert: !Not [!Equals [!Ref FunctionName, \"x\"]]\n"}}},
		{name: "commands without a channel", check: checkCustomActions, want: "ChatStatusAction: Condition \"\"",
			edits: [][2]string{{"  ChatStatusAction:\n    Type: AWS::Chatbot::CustomAction\n    Condition: HasChat\n", "  ChatStatusAction:\n    Type: AWS::Chatbot::CustomAction\n"}}},
		{name: "the check command observes instead", check: checkCustomActions, want: "no -check command running check",
			edits: [][2]string{{`--payload {"action":"check"}'`, `--payload {"action":"observe","dryRun":true}'`}}},
		{name: "no check command", check: checkCustomActions, want: "no -check command",
			edits: [][2]string{{"      AliasName: !Sub \"${FunctionName}-check\"\n", "      AliasName: !Sub \"${FunctionName}-observe\"\n"}}},
	}
}

func TestChatChecksCatchBrokenTemplates(t *testing.T) {
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	for group, ms := range map[string][]mutation{"chat": chatMutations(), "commands": commandMutations()} {
		for _, m := range ms {
			t.Run(group+"/"+m.name, func(t *testing.T) { runMutation(t, orig, m) })
		}
	}
}

// chatExamples are valid values of every chat parameter.
var chatExamples = map[string]string{
	"FunctionName": "rewind-prod-eu-west1", "SlackWorkspaceId": "T0123ABCDE", "SlackChannelId": "C0123ABCDEF",
	"TeamsTenantId": "00000000-1111-2222-3333-444444444444", "TeamsId": "55555555-6666-7777-8888-999999999999",
	"TeamsChannelId": "19%3a0123456789abcdef%40thread.tacv2",
}

// withChat returns the template text with the chat parameters (those in only) defaulting to examples.
func withChat(t *testing.T, text string, only ...string) string {
	t.Helper()
	for _, name := range only {
		head := "\n  " + name + ":\n    Type: String\n"
		i := strings.Index(text, head)
		if i < 0 || strings.Count(text, head) != 1 {
			t.Fatalf("parameter %s: not found once in the template", name)
		}
		j := strings.Index(text[i:], "    Default: \"\"\n")
		if j < 0 || nextParameter.MatchString(text[i+len(head):i+j]) {
			t.Fatalf("parameter %s has no empty default", name)
		}
		text = text[:i+j] + "    Default: \"" + chatExamples[name] + "\"\n" + text[i+j+len("    Default: \"\"\n"):]
	}
	return text
}

// TestTemplateCfnLintWithChatChannels: cfn-lint, with the SAM translator, finds nothing with a Slack
// channel, a Teams channel and both, each with every strategy enabled too.
func TestTemplateCfnLintWithChatChannels(t *testing.T) {
	bin := cfnLint(t)
	if n := len(chatExamples["FunctionName"]); n != 20 {
		t.Fatalf("the example function name is %d characters: use the longest the template allows, 20", n)
	}
	slack := []string{"FunctionName", "SlackWorkspaceId", "SlackChannelId"}
	teams := []string{"FunctionName", "TeamsTenantId", "TeamsId", "TeamsChannelId"}
	both := append(slices.Clone(slack), teams[1:]...)
	dir := t.TempDir()
	for name, params := range map[string][]string{"slack": slack, "teams": teams, "both": both} {
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(withChat(t, withEveryStrategy(t), params...)), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := runCfnLint(bin, p); err != nil || out != "" {
			t.Errorf("cfn-lint with %s: %v\n%s", name, err, out)
		}
	}
}
