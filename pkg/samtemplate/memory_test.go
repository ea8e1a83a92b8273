package samtemplate

// Rewind's memory: the MemoryTable the template creates, the only DynamoDB access the role holds, and
// the function's wiring to it.

import (
	"path"
	"slices"
	"strings"
	"testing"
)

// ---- the role ----

// memoryActions are the DynamoDB actions Rewind's memory needs, and all it may hold.
var memoryActions = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}

// grantsService reports whether the IAM action pattern can grant an action of service: "*",
// "dynamodb:*", "Dynamo*:Get*" and "DynamoDB:GetItem" all can for "dynamodb".
func grantsService(pattern, service string) bool {
	svc, _, _ := strings.Cut(strings.ToLower(pattern), ":")
	ok, err := path.Match(svc, service)
	return err == nil && ok
}

// checkMemoryIAM: the DynamoDB actions granted anywhere in the template are exactly memoryActions,
// each named in full, all of them granted to the function; every statement that can grant a DynamoDB
// action names only MemoryTable's Arn. A Deny only takes away; NotAction can grant DynamoDB, so it
// fails here too.
func checkMemoryIAM(t *Template) []problem {
	stmts, ps := iamStatements(t)
	granted := map[string]bool{}
	for _, s := range stmts {
		if effect, _ := s.body["Effect"].(string); effect == "Deny" {
			continue
		}
		if _, ok := s.body["NotAction"]; ok {
			ps.add(s.where, "NotAction grants every other action, DynamoDB's on any table among them")
		}
		dynamo := false
		for _, a := range strs(s.body["Action"]) {
			if !grantsService(a, "dynamodb") {
				continue
			}
			dynamo = true
			i := slices.IndexFunc(memoryActions, func(m string) bool { return strings.EqualFold(m, a) })
			if i < 0 {
				ps.add(s.where, "DynamoDB action %q: Rewind's memory needs exactly %s", a, strings.Join(memoryActions, ", "))
				continue
			}
			if strings.HasPrefix(s.where, functionID+" ") { // a statement's where starts with its resource
				granted[memoryActions[i]] = true
			}
		}
		if !dynamo {
			continue
		}
		if _, ok := s.body["NotResource"]; ok {
			ps.add(s.where, "DynamoDB with NotResource: name %s only", memoryTableARN)
		}
		resources := strs(s.body["Resource"])
		if len(resources) == 0 {
			ps.add(s.where, "DynamoDB statement without a Resource: name %s only", memoryTableARN)
		}
		for _, r := range resources {
			if r != memoryTableARN {
				ps.add(s.where, "DynamoDB on %q: Rewind may only use its own table, %s (!GetAtt %s.Arn)", r, memoryTableARN, memoryTableID)
			}
		}
	}
	for _, a := range memoryActions {
		if !granted[a] {
			ps.add(functionID, "no statement grants %s on %s: Rewind could not keep its memory", a, memoryTableARN)
		}
	}
	return ps
}

func TestTemplateMemoryTableIAMIsExactlyGetPutQuery(t *testing.T) {
	report(t, checkMemoryIAM(loadReal(t)))
}

func memoryIAMMutations() []mutation {
	return []mutation{
		{name: "dynamodb:*", check: checkMemoryIAM, want: `DynamoDB action "dynamodb:*"`,
			edits: [][2]string{{"                - dynamodb:Query\n", "                - dynamodb:*\n"}}},
		{name: "Scan", check: checkMemoryIAM, want: `DynamoDB action "dynamodb:Scan"`,
			edits: [][2]string{{"                - dynamodb:Query\n", "                - dynamodb:Query\n                - dynamodb:Scan\n"}}},
		{name: "DeleteTable", check: checkMemoryIAM, want: `DynamoDB action "dynamodb:DeleteTable"`,
			edits: [][2]string{{"                - dynamodb:Query\n", "                - dynamodb:Query\n                - dynamodb:DeleteTable\n"}}},
		{name: "a read checkIAM allows anywhere", check: checkMemoryIAM, want: `DynamoDB action "dynamodb:BatchGetItem"`,
			edits: [][2]string{{"                - dynamodb:Query\n", "                - dynamodb:Query\n                - dynamodb:BatchGetItem\n"}}},
		{name: "Get* instead of GetItem", check: checkMemoryIAM, want: `DynamoDB action "dynamodb:Get*"`,
			edits: [][2]string{{"                - dynamodb:GetItem\n", "                - dynamodb:Get*\n"}}},
		{name: "no PutItem", check: checkMemoryIAM, want: "no statement grants dynamodb:PutItem",
			edits: [][2]string{{"                - dynamodb:PutItem\n", ""}}},
		{name: "Resource star", check: checkMemoryIAM, want: `DynamoDB on "*"`,
			edits: [][2]string{{memoryResource, "              Resource: \"*\"\n"}}},
		{name: "another table's ARN", check: checkMemoryIAM, want: `DynamoDB on "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/orders"`,
			edits: [][2]string{{memoryResource, "              Resource: " + otherTableSub + "\n"}}},
		{name: "the table's literal ARN", check: checkMemoryIAM, want: `DynamoDB on "arn:aws:dynamodb:us-east-1:111122223333:table/rewind"`,
			edits: [][2]string{{memoryResource, "              Resource: arn:aws:dynamodb:us-east-1:111122223333:table/rewind\n"}}},
		{name: "GetItem on another table, in another statement", check: checkMemoryIAM, want: "table/orders",
			edits: [][2]string{{publishStmt, publishStmt + "            - Effect: Allow\n              Action: dynamodb:GetItem\n              Resource: " + otherTableSub + "\n"}}},
		{name: "Action star", check: checkMemoryIAM, want: `DynamoDB action "*"`,
			edits: [][2]string{{publishStmt, publishStmt + "            - Effect: Allow\n              Action: \"*\"\n              Resource: \"*\"\n"}}},
		{name: "NotAction", check: checkMemoryIAM, want: "NotAction",
			edits: [][2]string{{publishStmt, strings.Replace(publishStmt, "Action: sns:Publish", "NotAction: iam:*", 1)}}},
		{name: "an AWS::IAM::Policy scanning the table", check: checkMemoryIAM, want: `DynamoDB action "dynamodb:Scan"`,
			edits: [][2]string{{resourcesEnd, `
  ExtraPolicy:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: extra
      Roles: [!Ref ResponderFunctionRole]
      PolicyDocument:
        Statement:
          Effect: Allow
          Action: dynamodb:Scan
          Resource: !GetAtt MemoryTable.Arn
` + resourcesEnd}}},
		// Equivalent spellings must keep passing.
		{name: "GetAtt list, Sub, and lower case pass", check: checkMemoryIAM, want: "",
			edits: [][2]string{{"                - dynamodb:GetItem\n", "                - DynamoDB:getitem\n"},
				{memoryResource, "              Resource: [!GetAtt [MemoryTable, Arn], !Sub \"${MemoryTable.Arn}\"]\n"}}},
		{name: "a Deny on every table is fine", check: checkMemoryIAM, want: "",
			edits: [][2]string{{publishStmt, publishStmt + "            - Effect: Deny\n              Action: dynamodb:*\n              Resource: \"*\"\n"}}},
	}
}
