package samtemplate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// templatePath is Rewind's template, from this package's directory.
const templatePath = "../../../template.yaml"

func loadReal(t *testing.T) *Template {
	t.Helper()
	tpl, err := Load(templatePath)
	if err != nil {
		t.Fatalf("load the template: %v", err)
	}
	return tpl
}

func report(t *testing.T, ps []problem) {
	t.Helper()
	for _, p := range ps {
		t.Errorf("%s", p)
	}
}

// The real template: every check must find nothing.

func TestTemplateIAMIsLeastPrivilege(t *testing.T) { report(t, checkIAM(loadReal(t))) }

func TestTemplateAlarmTopicOnlyTakesThisAccountsAlarms(t *testing.T) {
	report(t, checkAlarmTopicPolicy(loadReal(t)))
}

func TestTemplateFunctionSafetySettings(t *testing.T) { report(t, checkFunction(loadReal(t))) }

func TestTemplateSetsEveryConfigEnvVar(t *testing.T) { report(t, checkEnv(loadReal(t), ConfigEnv)) }

func TestTemplateExampleAlarmsReachRewind(t *testing.T) { report(t, checkAlarms(loadReal(t))) }

// TestTemplateCfnLint runs cfn-lint (with the SAM translator) on the template; any output fails.
func TestTemplateCfnLint(t *testing.T) {
	bin := cfnLint(t)
	if out, err := runCfnLint(bin, templatePath); err != nil || out != "" {
		t.Fatalf("cfn-lint %s: %v\n%s", templatePath, err, out)
	}
}

// TestCfnLintCatchesABrokenCopy proves the cfn-lint test can fail: an invalid runtime must be reported.
func TestCfnLintCatchesABrokenCopy(t *testing.T) {
	bin := cfnLint(t)
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(orig), "Runtime: provided.al2023", "Runtime: provided.al2099", 1)
	if broken == string(orig) {
		t.Fatal("mutation out of date: no Runtime: provided.al2023 in the template")
	}
	p := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(p, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCfnLint(bin, p); err == nil || !strings.Contains(out, "provided.al2099") {
		t.Fatalf("cfn-lint did not report the invalid runtime (err %v):\n%s", err, out)
	}
}

func cfnLint(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cfn-lint is not on PATH; CI must install it (pip install cfn-lint) to check template.yaml")
		}
		t.Skip("cfn-lint is not on PATH (pip install cfn-lint); with CI=true this is a failure")
	}
	return bin
}

// runCfnLint runs cfn-lint on one template from its directory and returns everything it printed.
func runCfnLint(bin, template string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	abs, err := filepath.Abs(template)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, bin, "--", filepath.Base(abs))
	cmd.Dir = filepath.Dir(abs)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

// ---- every check must be able to fail: break a copy of the template, see the check name it ----

type mutation struct {
	name string
	// edits are applied in order: each old text must occur exactly once (so an edit can never
	// silently do nothing when the template changes).
	edits [][2]string
	check func(*Template) []problem
	// want is a fragment of the problem the check must report; "" = must report nothing
	// (an equivalent spelling that has to keep passing).
	want string
}

const (
	// targetFunctionSub is the alias statement's Resource: the alias's function (AWS authorizes UpdateAlias there).
	targetFunctionSub = `!Sub "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${LambdaFunctionName}"`
	distributionSub   = `!Sub "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${CloudFrontDistributionId}"`
	httpPatchStmt     = `              - Sid: MoveOnlyThisHttpApiStage
                Effect: Allow
                Action:
                  - apigateway:PATCH
                Resource: !Sub "arn:${AWS::Partition}:apigateway:${AWS::Region}::/apis/${HttpApiId}/stages/${HttpStageName}"
`
	// patchStmt exists only with RestApiId (HasExplicitStage).
	patchStmt = `              - Sid: MoveOnlyThisStage
                Effect: Allow
                Action: apigateway:PATCH
                Resource: !Sub "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestApiId}/stages/${StageName}"
`
	// patchStmtEnd is what follows it.
	patchStmtEnd = "\n              - !Ref AWS::NoValue\n            - Sid: PublishDecisions"
	publishStmt  = `            - Sid: PublishDecisions
              Effect: Allow
              Action: sns:Publish
              Resource: !Ref NotifyTopic
`
	resourcesEnd = "\nOutputs:\n"
	// memoryResource is the resource of the function's DynamoDB statement.
	memoryResource = "              Resource: !GetAtt MemoryTable.Arn\n"
	// otherTableSub is a table in the same account that is not Rewind's.
	otherTableSub = `!Sub "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/orders"`
	stageSub      = `!Sub "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestApiId}/stages/${StageName}"`
)

func iamMutations() []mutation {
	return []mutation{
		{name: "PATCH on every stage", check: checkIAM, want: "may only name the stage",
			edits: [][2]string{{"stages/${StageName}\"" + patchStmtEnd, "stages/*\"" + patchStmtEnd}}},
		{name: "apigateway:* on the stage", check: checkIAM, want: `wildcard action "apigateway:*"`,
			edits: [][2]string{{"Action: apigateway:PATCH", "Action: apigateway:*"}}},
		{name: "lower-case patch on the API", check: checkIAM, want: "may only name the stage",
			edits: [][2]string{{patchStmt, strings.Replace(strings.Replace(patchStmt, "apigateway:PATCH", "APIGateway:patch", 1), "/stages/${StageName}", "", 1)}}},
		{name: "DELETE added on the API", check: checkIAM, want: "apigateway:DELETE",
			edits: [][2]string{{"Action: apigateway:PATCH", "Action: [apigateway:PATCH, apigateway:DELETE]"}, {
				`Resource: !Sub "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestApiId}/stages/${StageName}"` + patchStmtEnd,
				`Resource:
                  - !Sub "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestApiId}/stages/${StageName}"
                  - !Sub "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestApiId}"` + patchStmtEnd}}},
		{name: "PATCH with a hard-coded ARN", check: checkIAM, want: "may only name the stage",
			edits: [][2]string{{patchStmt, strings.Replace(patchStmt, stageSub, `arn:aws:apigateway:us-east-1::/restapis/abcdefghij/stages/prod`, 1)}}},
		{name: "PATCH on a wide resource in one branch of Fn::If", check: checkIAM, want: `apigateway:PATCH on "*"`,
			edits: [][2]string{{patchStmt, strings.Replace(patchStmt, stageSub, `!If [HasFallback, "*", `+stageSub+`]`, 1)}}},
		{name: "Action star", check: checkIAM, want: `wildcard action "*"`,
			edits: [][2]string{{publishStmt, publishStmt + "            - Effect: Allow\n              Action: \"*\"\n              Resource: \"*\"\n"}}},
		{name: "sns:Publish on every topic", check: checkIAM, want: `write action sns:Publish on Resource "*"`,
			edits: [][2]string{{publishStmt, strings.Replace(publishStmt, "!Ref NotifyTopic", `"*"`, 1)}}},
		{name: "NotAction", check: checkIAM, want: "NotAction",
			edits: [][2]string{{publishStmt, strings.Replace(publishStmt, "Action: sns:Publish", "NotAction: iam:*", 1)}}},
		{name: "managed policy on the function", check: checkIAM, want: "managed policy \"AmazonAPIGatewayAdministrator\"",
			edits: [][2]string{{"      Policies:\n", "      Policies:\n        - AmazonAPIGatewayAdministrator\n"}}},
		{name: "SAM policy template on the function", check: checkIAM, want: "SAM policy template",
			edits: [][2]string{{"      Policies:\n", "      Policies:\n        - SQSSendMessagePolicy:\n            QueueName: x\n"}}},
		{name: "AWS::IAM::Policy deleting deployments", check: checkIAM, want: "apigateway:DELETE",
			edits: [][2]string{{resourcesEnd, `
  ExtraPolicy:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: extra
      Roles: [!Ref ResponderFunctionRole]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          Effect: Allow
          Action: apigateway:DELETE
          Resource: !Sub "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestApiId}/deployments/*"
` + resourcesEnd}}},
		{name: "AWS::IAM::Role with s3:*", check: checkIAM, want: `wildcard action "s3:*"`,
			edits: [][2]string{{resourcesEnd, `
  ExtraRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: data
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: s3:*
                Resource: arn:aws:s3:::bucket/*
` + resourcesEnd}}},
		{name: "role with an admin managed policy", check: checkIAM, want: "AdministratorAccess",
			edits: [][2]string{{resourcesEnd, `
  ExtraRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      ManagedPolicyArns: [!Sub "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess"]
` + resourcesEnd}}},
		{name: "UpdateAlias on every alias of the function", check: checkIAM, want: `lambda:UpdateAlias on "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${LambdaFunctionName}:*"`,
			edits: [][2]string{{targetFunctionSub, `!Sub "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${LambdaFunctionName}:*"`}}},
		{name: "UpdateAlias on the alias ARN, which AWS never asks about", check: checkIAM, want: "lambda writes may only name",
			edits: [][2]string{{targetFunctionSub, `!Sub "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${LambdaFunctionName}:${LambdaAliasName}"`}}},
		{name: "UpdateAlias on every function", check: checkIAM, want: `lambda:UpdateAlias on "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:*"`,
			edits: [][2]string{{targetFunctionSub, `!Sub "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:*"`}}},
		{name: "DeleteFunction on the alias", check: checkIAM, want: "write action lambda:DeleteFunction",
			edits: [][2]string{{"                  - lambda:UpdateAlias\n", "                  - lambda:UpdateAlias\n                  - lambda:DeleteFunction\n"}}},
		{name: "lambda:* on the alias", check: checkIAM, want: `wildcard action "lambda:*"`,
			edits: [][2]string{{"                  - lambda:UpdateAlias\n", "                  - lambda:*\n"}}},
		{name: "UpdateDistribution on every distribution", check: checkIAM, want: `cloudfront:UpdateDistribution on "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/*"`,
			edits: [][2]string{{distributionSub, `!Sub "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/*"`}}},
		{name: "DeleteDistribution on the distribution", check: checkIAM, want: "write action cloudfront:DeleteDistribution",
			edits: [][2]string{{"                  - cloudfront:UpdateDistribution\n", "                  - cloudfront:UpdateDistribution\n                  - cloudfront:DeleteDistribution\n"}}},
		{name: "PATCH on every HTTP API stage", check: checkIAM, want: "may only name the stage",
			edits: [][2]string{{httpPatchStmt, strings.Replace(httpPatchStmt, "/stages/${HttpStageName}", "/stages/*", 1)}}},
		{name: "PATCH on the HTTP API itself", check: checkIAM, want: `apigateway:PATCH on "arn:${AWS::Partition}:apigateway:${AWS::Region}::/apis/${HttpApiId}"`,
			edits: [][2]string{{httpPatchStmt, strings.Replace(httpPatchStmt, "/stages/${HttpStageName}", "", 1)}}},
		{name: "dynamodb:* on the memory table", check: checkIAM, want: `wildcard action "dynamodb:*"`,
			edits: [][2]string{{"                - dynamodb:Query\n", "                - dynamodb:*\n"}}},
		{name: "Scan on the memory table", check: checkIAM, want: "write action dynamodb:Scan",
			edits: [][2]string{{"                - dynamodb:Query\n", "                - dynamodb:Query\n                - dynamodb:Scan\n"}}},
		{name: "DeleteTable on the memory table", check: checkIAM, want: "write action dynamodb:DeleteTable",
			edits: [][2]string{{"                - dynamodb:Query\n", "                - dynamodb:Query\n                - dynamodb:DeleteTable\n"}}},
		{name: "memory actions on every table", check: checkIAM, want: `dynamodb:PutItem on "*"`,
			edits: [][2]string{{memoryResource, "              Resource: \"*\"\n"}}},
		{name: "memory actions on another table too", check: checkIAM, want: "dynamodb:Query on \"arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/orders\"",
			edits: [][2]string{{memoryResource, "              Resource:\n                - !GetAtt MemoryTable.Arn\n                - " + otherTableSub + "\n"}}},
		{name: "memory actions on the table's indexes", check: checkIAM, want: "dynamodb writes may only name ${MemoryTable.Arn}",
			edits: [][2]string{{memoryResource, "              Resource: !Sub \"${MemoryTable.Arn}/index/*\"\n"}}},
		// Equivalent spellings of the stage ARN must keep passing.
		{name: "stage ARN as Fn::Join", check: checkIAM, want: "",
			edits: [][2]string{{patchStmt, strings.Replace(patchStmt, stageSub,
				`!Join ["", ["arn:", !Ref AWS::Partition, ":apigateway:", !Ref AWS::Region, "::/restapis/", !Ref RestApiId, "/stages/", !Ref StageName]]`, 1)}}},
		{name: "stage ARN as Fn::Sub with variables", check: checkIAM, want: "",
			edits: [][2]string{{patchStmt, strings.Replace(patchStmt, stageSub,
				`!Sub ["arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Id}/stages/${S}", {Id: !Ref RestApiId, S: !Ref StageName}]`, 1)}}},
		{name: "memory table Arn as a GetAtt list", check: checkIAM, want: "",
			edits: [][2]string{{memoryResource, "              Resource: [!GetAtt [MemoryTable, Arn]]\n"}}},
		{name: "a Deny on everything is fine", check: checkIAM, want: "",
			edits: [][2]string{{publishStmt, publishStmt + "            - Effect: Deny\n              Action: \"*\"\n              Resource: \"*\"\n              Condition: {Bool: {aws:SecureTransport: false}}\n"}}},
	}
}

const (
	topicPrincipal = "            Principal:\n              Service: cloudwatch.amazonaws.com\n"
	sourceAccount  = "              StringEquals:\n                aws:SourceAccount: !Ref AWS::AccountId\n"
	sourceArn      = "              ArnLike:\n                aws:SourceArn: !Sub \"arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*\"\n"
)

// The AlarmTopic policy's Denies, as the template writes them.
const (
	denyNotCloudWatch = `          - Sid: DenyEveryPublisherButCloudWatch
            Effect: Deny
            Principal: "*"
            Action: sns:Publish
            Resource: !Ref AlarmTopic
            Condition:
              StringNotEquals:
                aws:PrincipalServiceName: cloudwatch.amazonaws.com
`
	denyOtherAccount = `          - Sid: DenyCloudWatchForAnotherAccount
            Effect: Deny
            Principal: "*"
            Action: sns:Publish
            Resource: !Ref AlarmTopic
            Condition:
              StringNotEquals:
                aws:SourceAccount: !Ref AWS::AccountId
`
	denyOtherSource = `          - Sid: DenyAnythingButThisAccountsAlarms
            Effect: Deny
            Principal: "*"
            Action: sns:Publish
            Resource: !Ref AlarmTopic
            Condition:
              ArnNotLike:
                aws:SourceArn: !Sub "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
`
	// reservedLine is how the function takes its reserved concurrency.
	reservedLine = "ReservedConcurrentExecutions: !If [HasReservedConcurrency, !Ref ReservedConcurrency, !Ref AWS::NoValue]"
)

func topicMutations() []mutation {
	return []mutation{
		{name: "anyone may publish", check: checkAlarmTopicPolicy, want: "principal type AWS",
			edits: [][2]string{{topicPrincipal, "            Principal:\n              AWS: \"*\"\n"}}},
		{name: "principal star", check: checkAlarmTopicPolicy, want: "want only Service",
			edits: [][2]string{{topicPrincipal, "            Principal: \"*\"\n"}}},
		{name: "EventBridge may publish too", check: checkAlarmTopicPolicy, want: `"events.amazonaws.com"`,
			edits: [][2]string{{topicPrincipal, "            Principal:\n              Service: [cloudwatch.amazonaws.com, events.amazonaws.com]\n"}}},
		{name: "no aws:SourceAccount", check: checkAlarmTopicPolicy, want: "no aws:SourceAccount",
			edits: [][2]string{{sourceAccount, ""}}},
		{name: "no aws:SourceArn", check: checkAlarmTopicPolicy, want: "no aws:SourceArn",
			edits: [][2]string{{sourceArn, ""}}},
		{name: "SourceAccount IfExists", check: checkAlarmTopicPolicy, want: "StringEqualsIfExists",
			edits: [][2]string{{"              StringEquals:\n                aws:SourceAccount", "              StringEqualsIfExists:\n                aws:SourceAccount"}}},
		{name: "another account", check: checkAlarmTopicPolicy, want: `aws:SourceAccount "111122223333"`,
			edits: [][2]string{{sourceAccount, strings.Replace(sourceAccount, "!Ref AWS::AccountId", `"111122223333"`, 1)}}},
		{name: "any service's ARN", check: checkAlarmTopicPolicy, want: "aws:SourceArn",
			edits: [][2]string{{sourceArn, strings.Replace(sourceArn, ":cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*", ":*:${AWS::Region}:${AWS::AccountId}:*", 1)}}},
		{name: "sns:* for CloudWatch", check: checkAlarmTopicPolicy, want: `action "sns:*"`,
			edits: [][2]string{{"              Service: cloudwatch.amazonaws.com\n            Action: sns:Publish\n", "              Service: cloudwatch.amazonaws.com\n            Action: sns:*\n"}}},
		{name: "no topic policy", check: checkAlarmTopicPolicy, want: "found 0",
			edits: [][2]string{{"      Topics:\n        - !Ref AlarmTopic\n", "      Topics:\n        - !Ref NotifyTopic\n"}}},
		{name: "no Deny for other principals", check: checkAlarmTopicPolicy, want: "when aws:PrincipalServiceName is not cloudwatch.amazonaws.com",
			edits: [][2]string{{denyNotCloudWatch, ""}}},
		{name: "no Deny for other accounts", check: checkAlarmTopicPolicy, want: "when aws:SourceAccount is not ${AWS::AccountId}",
			edits: [][2]string{{denyOtherAccount, ""}}},
		{name: "no Deny for other sources", check: checkAlarmTopicPolicy, want: "when aws:SourceArn is not",
			edits: [][2]string{{denyOtherSource, ""}}},
		{name: "no Denies at all", check: checkAlarmTopicPolicy, want: "a role whose own policy allows sns:Publish could publish a forged alarm",
			edits: [][2]string{{denyNotCloudWatch + denyOtherAccount + denyOtherSource, ""}}},
		{name: "the Denies ANDed into one", check: checkAlarmTopicPolicy, want: "the keys of one statement are ANDed",
			edits: [][2]string{{denyNotCloudWatch + denyOtherAccount + denyOtherSource, strings.Replace(denyNotCloudWatch,
				"                aws:PrincipalServiceName: cloudwatch.amazonaws.com\n",
				"                aws:PrincipalServiceName: cloudwatch.amazonaws.com\n                aws:SourceAccount: !Ref AWS::AccountId\n", 1)}}},
		{name: "the Deny weakened to a ForAnyValue (false when the key is absent)", check: checkAlarmTopicPolicy, want: "uses ForAnyValue:StringNotEquals",
			edits: [][2]string{{denyNotCloudWatch, strings.Replace(denyNotCloudWatch, "StringNotEquals:", "ForAnyValue:StringNotEquals:", 1)}}},
		{name: "the Deny weakened to any service", check: checkAlarmTopicPolicy, want: "Deny on aws:PrincipalServiceName uses StringNotLike",
			edits: [][2]string{{denyNotCloudWatch, strings.Replace(strings.Replace(denyNotCloudWatch, "StringNotEquals:", "StringNotLike:", 1), "cloudwatch.amazonaws.com", `"*.amazonaws.com"`, 1)}}},
		{name: "the Deny for EventBridge instead", check: checkAlarmTopicPolicy, want: "aws:PrincipalServiceName [events.amazonaws.com]",
			edits: [][2]string{{denyNotCloudWatch, strings.Replace(denyNotCloudWatch, "cloudwatch.amazonaws.com", "events.amazonaws.com", 1)}}},
		{name: "the Deny for IAM principals only", check: checkAlarmTopicPolicy, want: "Deny for principal map[AWS:",
			edits: [][2]string{{denyNotCloudWatch, strings.Replace(denyNotCloudWatch, `Principal: "*"`, `Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::111122223333:root"}`, 1)}}},
		{name: "the Deny on another topic", check: checkAlarmTopicPolicy, want: "Deny on [${NotifyTopic}]",
			edits: [][2]string{{denyOtherSource, strings.Replace(denyOtherSource, "Resource: !Ref AlarmTopic", "Resource: !Ref NotifyTopic", 1)}}},
		{name: "the account Deny for another account", check: checkAlarmTopicPolicy, want: "Deny on aws:SourceAccount [111122223333]",
			edits: [][2]string{{denyOtherAccount, strings.Replace(denyOtherAccount, "!Ref AWS::AccountId", `"111122223333"`, 1)}}},
		{name: "a Deny without a Condition drops CloudWatch's alarms", check: checkAlarmTopicPolicy, want: "without a Condition",
			edits: [][2]string{{denyOtherSource, denyOtherSource[:strings.Index(denyOtherSource, "            Condition:")]}}},
		{name: "a second policy on the topic", check: checkAlarmTopicPolicy, want: "found 2",
			edits: [][2]string{{resourcesEnd, `
  OpenPolicy:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref AlarmTopic]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {AWS: "*"}
            Action: sns:Publish
            Resource: !Ref AlarmTopic
` + resourcesEnd}}},
	}
}

func functionMutations() []mutation {
	return []mutation{
		{name: "concurrency 50", check: checkFunction, want: "ReservedConcurrentExecutions 50",
			edits: [][2]string{{reservedLine, "ReservedConcurrentExecutions: 50"}}},
		{name: "concurrency 0 (function disabled)", check: checkFunction, want: "ReservedConcurrentExecutions 0",
			edits: [][2]string{{reservedLine, "ReservedConcurrentExecutions: 0"}}},
		{name: "a literal 2 passes", check: checkFunction, want: "",
			edits: [][2]string{{reservedLine, "ReservedConcurrentExecutions: 2"}}},
		{name: "no reserved concurrency", check: checkFunction, want: "ReservedConcurrentExecutions <nil>",
			edits: [][2]string{{"      " + reservedLine + "\n", ""}}},
		{name: "the parameter without the condition (0 would disable the function)", check: checkFunction, want: "ReservedConcurrentExecutions map[Ref:ReservedConcurrency]",
			edits: [][2]string{{reservedLine, "ReservedConcurrentExecutions: !Ref ReservedConcurrency"}}},
		{name: "the condition the wrong way round", check: checkFunction, want: "HasReservedConcurrency map[Fn::Equals",
			edits: [][2]string{{`HasReservedConcurrency: !Not [!Equals [!Ref ReservedConcurrency, "0"]]`, `HasReservedConcurrency: !Equals [!Ref ReservedConcurrency, "0"]`}}},
		{name: "the branches swapped", check: checkFunction, want: "0 leaves it out",
			edits: [][2]string{{reservedLine, "ReservedConcurrentExecutions: !If [HasReservedConcurrency, !Ref AWS::NoValue, !Ref ReservedConcurrency]"}}},
		{name: "a default of 50", check: checkFunction, want: "ReservedConcurrency: Default 50",
			edits: [][2]string{{"    Default: 2\n    AllowedValues: [0, 1, 2, 3, 4, 5]\n", "    Default: 50\n    AllowedValues: [0, 1, 2, 3, 4, 5, 50]\n"}}},
		{name: "a default of 0 (no reservation unless asked)", check: checkFunction, want: "ReservedConcurrency: Default 0",
			edits: [][2]string{{"    Default: 2\n    AllowedValues: [0, 1, 2, 3, 4, 5]\n", "    Default: 0\n    AllowedValues: [0, 1, 2, 3, 4, 5]\n"}}},
		{name: "up to 100 allowed", check: checkFunction, want: "AllowedValues holds 100",
			edits: [][2]string{{"    AllowedValues: [0, 1, 2, 3, 4, 5]\n", "    AllowedValues: [0, 1, 2, 3, 4, 5, 100]\n"}}},
		{name: "0 not allowed", check: checkFunction, want: "lack 0",
			edits: [][2]string{{"    AllowedValues: [0, 1, 2, 3, 4, 5]\n", "    AllowedValues: [1, 2, 3, 4, 5]\n"}}},
		{name: "x86_64", check: checkFunction, want: "Architectures",
			edits: [][2]string{{"Architectures: [arm64]", "Architectures: [x86_64]"}}},
		{name: "old runtime", check: checkFunction, want: "Runtime provided.al2:",
			edits: [][2]string{{"Runtime: provided.al2023", "Runtime: provided.al2"}}},
		{name: "handler", check: checkFunction, want: "Handler main",
			edits: [][2]string{{"Handler: bootstrap", "Handler: main"}}},
		{name: "build method", check: checkFunction, want: "BuildMethod go1.x",
			edits: [][2]string{{"BuildMethod: makefile", "BuildMethod: go1.x"}}},
		{name: "no retries", check: checkFunction, want: "MaximumRetryAttempts 0",
			edits: [][2]string{{"MaximumRetryAttempts: 2", "MaximumRetryAttempts: 0"}}},
		{name: "no OnFailure destination", check: checkFunction, want: "OnFailure missing",
			edits: [][2]string{{"          OnFailure:\n", "          OnSuccess:\n"}}},
		{name: "alarms a day old", check: checkFunction, want: "MaximumEventAgeInSeconds 21600",
			edits: [][2]string{{"MaximumEventAgeInSeconds: 900", "MaximumEventAgeInSeconds: 21600"}}},
		{name: "timeout 15 minutes", check: checkFunction, want: "Timeout 900",
			edits: [][2]string{{"Timeout: 30", "Timeout: 900"}}},
		{name: "timeout from Globals", check: checkFunction, want: "Timeout 120",
			edits: [][2]string{{"      Timeout: 30\n", ""}, {"\nResources:\n", "\nGlobals:\n  Function:\n    Timeout: 120\n\nResources:\n"}}},
		{name: "a sane timeout from Globals passes", check: checkFunction, want: "",
			edits: [][2]string{{"      Timeout: 30\n", ""}, {"\nResources:\n", "\nGlobals:\n  Function:\n    Timeout: 30\n\nResources:\n"}}},
		{name: "not subscribed to AlarmTopic", check: checkFunction, want: "no SNS event on AlarmTopic",
			edits: [][2]string{{"            Topic: !Ref AlarmTopic", "            Topic: !Ref NotifyTopic"}}},
	}
}

func envMutations() []mutation {
	check := func(t *Template) []problem { return checkEnv(t, ConfigEnv) }
	return []mutation{
		{name: "NOTIFY_TOPIC_ARN missing", check: check, want: "NOTIFY_TOPIC_ARN is not set",
			edits: [][2]string{{"          NOTIFY_TOPIC_ARN: !Ref NotifyTopic\n", ""}}},
		{name: "typo DRYRUN", check: check, want: "DRYRUN is not read",
			edits: [][2]string{{"DRY_RUN: !Ref DryRun", "DRYRUN: !Ref DryRun"}}},
		{name: "AWS_REGION set", check: check, want: "AWS_REGION is reserved",
			edits: [][2]string{{"          LOG_LEVEL: !Ref LogLevel\n", "          LOG_LEVEL: !Ref LogLevel\n          AWS_REGION: !Ref AWS::Region\n"}}},
		{name: "TARGETS only in Globals passes", check: check, want: "",
			edits: [][2]string{{targetsBlock, ""},
				{"\nResources:\n", "\nGlobals:\n  Function:\n    Environment:\n      Variables:\n        TARGETS: !Sub \"${RestApiId}/${StageName}\"\n\nResources:\n"}}},
	}
}

// targetsBlock is the function's TARGETS variable, every optional strategy included.
const targetsBlock = `          # Grammar: restApiId/stage[@deployment], http:apiId/stage[@deployment],
          # lambda:function:alias[@version], cloudfront:DISTRIBUTIONID:pathPattern@legacyOriginId.
          # Without RestApiId the selector comes first (the rule AStageToProtect makes ProtectTag set),
          # so TARGETS never starts with a comma; with both, it comes last, as it always has.
          TARGETS: !Join
            - ""
            - - !If
                - HasExplicitStage
                - !If
                  - HasFallback
                  - !Sub "${RestApiId}/${StageName}@${FallbackDeploymentId}"
                  - !Sub "${RestApiId}/${StageName}"
                - !Sub "rest:tag:${ProtectTag}"
              - !If
                - HasHttpStage
                - !If
                  - HasHttpFallback
                  - !Sub ",http:${HttpApiId}/${HttpStageName}@${HttpFallbackDeploymentId}"
                  - !Sub ",http:${HttpApiId}/${HttpStageName}"
                - ""
              - !If
                - HasLambdaAlias
                - !If
                  - HasLambdaFallback
                  - !Sub ",lambda:${LambdaFunctionName}:${LambdaAliasName}@${LambdaFallbackVersion}"
                  - !Sub ",lambda:${LambdaFunctionName}:${LambdaAliasName}"
                - ""
              - !If
                - HasCloudFront
                - !Sub ",cloudfront:${CloudFrontDistributionId}:${CloudFrontPathPattern}@${CloudFrontLegacyOriginId}"
                - ""
              - !If [ExplicitStageAndByTag, !Sub ",rest:tag:${ProtectTag}", ""]
              # Last: with ProtectTag, TARGETS already holds an item before it (the explicit stage or rest:tag).
              - !If [ProtectHttpByTag, !Sub ",http:tag:${ProtectTag}", ""]
`

func alarmMutations() []mutation {
	return []mutation{
		{name: "wrong namespace", check: checkAlarms, want: "Namespace AWS/Lambda",
			edits: [][2]string{{"      Namespace: AWS/ApiGateway\n      MetricName: Latency", "      Namespace: AWS/Lambda\n      MetricName: Latency"}}},
		{name: "no OK to Rewind", check: checkAlarms, want: "OKActions does not include AlarmTopic",
			edits: [][2]string{{"      OKActions:\n        - !Ref AlarmTopic\n\nOutputs:", "\nOutputs:"}}},
		{name: "ALARM to the notify topic", check: checkAlarms, want: "AlarmActions does not include AlarmTopic",
			edits: [][2]string{{"      AlarmActions:\n        - !Ref AlarmTopic\n      # OK too", "      AlarmActions:\n        - !Ref NotifyTopic\n      # OK too"}}},
		{name: "ApiId instead of ApiName", check: checkAlarms, want: "dimension ApiName",
			edits: [][2]string{{"        - Name: ApiName\n          Value: !Ref RestApiName\n        - Name: Stage\n          Value: !Ref StageName\n      Statistic: Sum",
				"        - Name: ApiId\n          Value: !Ref RestApiId\n        - Name: Stage\n          Value: !Ref StageName\n      Statistic: Sum"}}},
		{name: "no Stage dimension", check: checkAlarms, want: "dimension Stage",
			edits: [][2]string{{"        - Name: Stage\n          Value: !Ref StageName\n      ExtendedStatistic", "      ExtendedStatistic"}}},
		{name: "alarm removed", check: checkAlarms, want: "Api5XXAlarm: missing",
			edits: [][2]string{{"  Api5XXAlarm:\n", "  Api5xxAlarm:\n"}}},
		{name: "actions disabled", check: checkAlarms, want: "ActionsEnabled is false",
			edits: [][2]string{{"      MetricName: 5XXError\n", "      MetricName: 5XXError\n      ActionsEnabled: false\n"}}},
	}
}

func TestChecksReportBrokenTemplates(t *testing.T) {
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string][]mutation{
		"iam": iamMutations(), "topic": topicMutations(), "function": functionMutations(),
		"env": envMutations(), "alarms": alarmMutations(),
		"memory-iam": memoryIAMMutations(), "memory-table": memoryTableMutations(), "memory-wiring": memoryWiringMutations(),
	}
	for group, ms := range groups {
		for _, m := range ms {
			t.Run(group+"/"+m.name, func(t *testing.T) { runMutation(t, orig, m) })
		}
	}
}

// runMutation applies m's edits to the template text orig, loads the result and runs m's check on it:
// it must report m.want (or, with want "", nothing).
func runMutation(t *testing.T, orig []byte, m mutation) {
	t.Helper()
	text := string(orig)
	for _, e := range m.edits {
		if n := strings.Count(text, e[0]); n != 1 {
			t.Fatalf("mutation out of date: %q occurs %d times in the template, want 1", e[0], n)
		}
		text = strings.Replace(text, e[0], e[1], 1)
	}
	if text == string(orig) {
		t.Fatal("mutation changed nothing")
	}
	p := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	tpl, err := Load(p)
	if err != nil {
		t.Fatalf("load mutated template: %v", err)
	}
	ps := m.check(tpl)
	if m.want == "" {
		report(t, ps)
		return
	}
	for _, p := range ps {
		if strings.Contains(p.String(), m.want) {
			return
		}
	}
	t.Errorf("check did not report %q; it reported %d problem(s): %v", m.want, len(ps), ps)
}

// ---- the loader ----

func TestParseShortFormTags(t *testing.T) {
	tpl, err := Parse([]byte(`
Resources:
  R:
    Type: AWS::X::Y
    Condition: C
    Properties:
      Sub: !Sub "a-${B}"
      SubList: !Sub ["a-${X}", {X: !Ref B}]
      Ref: !Ref B
      RefNumber: !Ref 5
      GetAtt: !GetAtt Res.Arn
      GetAttNested: !GetAtt Stack.Outputs.Name
      GetAttList: !GetAtt [Res, Arn]
      GetAttInList: [!GetAtt Res.Arn, !GetAtt [Other, Arn]]
      If: !If [C, !Sub "x", !Ref AWS::NoValue]
      Join: !Join ["", [a, !Ref B]]
      Not: !Not [!Equals [!Ref B, ""]]
      Cond: !Condition C
      Long: {"Fn::Sub": "y"}
      Int: 2
      Quoted: "2"
      Bool: true
      Null: ~
      Alias: &a {k: v}
      Again: *a
`))
	if err != nil {
		t.Fatal(err)
	}
	r := tpl.Resources["R"]
	if r.Type != "AWS::X::Y" || r.Condition != "C" {
		t.Errorf("type/condition: %q %q", r.Type, r.Condition)
	}
	want := map[string]string{
		"Sub":          `map[Fn::Sub:a-${B}]`,
		"SubList":      `map[Fn::Sub:[a-${X} map[X:map[Ref:B]]]]`,
		"Ref":          `map[Ref:B]`,
		"RefNumber":    `map[Ref:5]`,
		"GetAtt":       `map[Fn::GetAtt:[Res Arn]]`,
		"GetAttNested": `map[Fn::GetAtt:[Stack Outputs.Name]]`,
		"GetAttList":   `map[Fn::GetAtt:[Res Arn]]`,
		"GetAttInList": `[map[Fn::GetAtt:[Res Arn]] map[Fn::GetAtt:[Other Arn]]]`,
		"If":           `map[Fn::If:[C map[Fn::Sub:x] map[Ref:AWS::NoValue]]]`,
		"Join":         `map[Fn::Join:[ [a map[Ref:B]]]]`,
		"Not":          `map[Fn::Not:[map[Fn::Equals:[map[Ref:B] ]]]]`,
		"Cond":         `map[Condition:C]`,
		"Long":         `map[Fn::Sub:y]`,
		"Int":          `2 int64`,
		"Quoted":       `2 string`,
		"Bool":         `true bool`,
		"Null":         `<nil> <nil>`,
		"Alias":        `map[k:v]`,
		"Again":        `map[k:v]`,
	}
	for k, w := range want {
		v := r.Properties[k]
		got := sprint(v)
		if strings.HasSuffix(w, "int64") || strings.HasSuffix(w, "string") || strings.HasSuffix(w, "bool") || strings.HasSuffix(w, "<nil>") {
			got = sprint(v) + " " + typeName(v)
		}
		if got != w {
			t.Errorf("%s = %s, want %s", k, got, w)
		}
	}
	for k, w := range map[string][]string{
		"Sub": {"a-${B}"}, "SubList": {"a-${B}"}, "Join": {"a${B}"}, "GetAtt": {"${Res.Arn}"}, "If": {"x"},
	} {
		if got := render(r.Properties[k]); strings.Join(got, "|") != strings.Join(w, "|") {
			t.Errorf("render(%s) = %q, want %q", k, got, w)
		}
	}
	// A Resource list of GetAtts (the memory statement's shape) renders element by element.
	if got := strs(r.Properties["GetAttInList"]); strings.Join(got, "|") != "${Res.Arn}|${Other.Arn}" {
		t.Errorf("strs(GetAttInList) = %q", got)
	}
}

func TestParseRefusesWhatItCannotRepresent(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown tag":   "Resources:\n  R:\n    Type: A::B::C\n    Properties: {X: !Subb x}\n",
		"duplicate key": "Resources:\n  R:\n    Type: A::B::C\n    Properties:\n      Action: a\n      Action: b\n",
		"merge key":     "Base: &b {Type: A::B::C}\nResources:\n  R:\n    <<: *b\n",
		"two documents": "Resources:\n  R: {Type: A::B::C}\n---\nResources: {}\n",
		"no resources":  "Parameters: {}\n",
		"no type":       "Resources:\n  R: {Properties: {}}\n",
		"bad GetAtt":    "Resources:\n  R:\n    Type: A::B::C\n    Properties: {X: !GetAtt NoDot}\n",
		"not a mapping": "- a\n- b\n",
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func sprint(v any) string { return fmt.Sprint(v) }

func typeName(v any) string {
	if v == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%T", v)
}
