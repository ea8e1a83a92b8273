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

// ---- the table ----

// isTrue reads a literal CloudFormation boolean (true, or the string "true"); an intrinsic is not.
func isTrue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true")
	}
	return false
}

// keyTypes maps each AttributeName in a KeySchema or AttributeDefinitions list to its KeyType or
// AttributeType (field), and counts the entries.
func keyTypes(list any, field string) (map[string][]string, int) {
	out := map[string][]string{}
	n := 0
	for _, e := range flatten(list) {
		n++
		m, _ := e.(map[string]any)
		name, _ := m["AttributeName"].(string)
		typ, _ := m[field].(string)
		out[name] = append(out[name], typ)
	}
	return out, n
}

// checkMemoryTable: MemoryTable is an unconditional, unnamed AWS::DynamoDB::Table, kept on stack
// deletion and on replacement, on demand, with point-in-time recovery, encryption at rest, TTL on
// expiresAt, and the string keys pk (HASH) and sk (RANGE) the code reads and writes.
func checkMemoryTable(t *Template) []problem {
	var ps problems
	w := memoryTableID
	r, ok := t.Resources[w]
	if !ok || r.Type != "AWS::DynamoDB::Table" {
		ps.add(w, "missing, or not an AWS::DynamoDB::Table")
		return ps
	}
	if r.Condition != "" {
		ps.add(w, "Condition %s: MEMORY_TABLE is required, so the table must exist whenever the function does", r.Condition)
	}
	for _, policy := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
		if v, _ := r.Raw[policy].(string); v != "Retain" {
			ps.add(w, "%s %v: want Retain (deleting or replacing the stack must never erase what Rewind knows is bad)", policy, r.Raw[policy])
		}
	}
	p := r.Properties
	if name, named := p["TableName"]; named {
		ps.add(w, "TableName %v: leave it out, so CloudFormation names the table and two stacks never collide", name)
	}
	if bm, _ := p["BillingMode"].(string); bm != "PAY_PER_REQUEST" {
		ps.add(w, "BillingMode %v: want PAY_PER_REQUEST (no capacity to size, no throttling in an alarm burst)", p["BillingMode"])
	}
	if v, _ := dig(p, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"); !isTrue(v) {
		ps.add(w, "PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled %v: want true (a bad write must be recoverable)", v)
	}
	if v, _ := dig(p, "SSESpecification", "SSEEnabled"); !isTrue(v) {
		ps.add(w, "SSESpecification.SSEEnabled %v: want true", v)
	}
	if v := p["DeletionProtectionEnabled"]; !isTrue(v) {
		ps.add(w, "DeletionProtectionEnabled %v: want true (a DeleteTable outside CloudFormation must be refused)", v)
	}
	if v, _ := dig(p, "TimeToLiveSpecification", "AttributeName"); v != "expiresAt" {
		ps.add(w, "TimeToLiveSpecification.AttributeName %v: want expiresAt (the attribute the code sets on audit entries)", v)
	}
	if v, _ := dig(p, "TimeToLiveSpecification", "Enabled"); !isTrue(v) {
		ps.add(w, "TimeToLiveSpecification.Enabled %v: want true (audit entries would never expire)", v)
	}
	keys, n := keyTypes(p["KeySchema"], "KeyType")
	if n != 2 || !slices.Equal(keys["pk"], []string{"HASH"}) || !slices.Equal(keys["sk"], []string{"RANGE"}) {
		ps.add(w, "KeySchema %v: want pk HASH and sk RANGE, nothing else", p["KeySchema"])
	}
	attrs, _ := keyTypes(p["AttributeDefinitions"], "AttributeType")
	for _, k := range []string{"pk", "sk"} {
		if !slices.Equal(attrs[k], []string{"S"}) {
			ps.add(w, "AttributeDefinitions %s %v: want one definition, type S", k, attrs[k])
		}
	}
	return ps
}

func TestTemplateMemoryTableKeepsWhatRewindKnows(t *testing.T) {
	report(t, checkMemoryTable(loadReal(t)))
}

// The memory table's text in the template, for the broken copies.
const (
	memoryPolicies = "    DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n    Properties:\n      # On demand"
	pkDefinition   = "        - AttributeName: pk\n          AttributeType: S\n"
	skKey          = "        - AttributeName: sk\n          KeyType: RANGE\n"
	pitr           = "      PointInTimeRecoverySpecification:\n        PointInTimeRecoveryEnabled: true\n"
	ttl            = "        AttributeName: expiresAt\n        Enabled: true\n"
)

func memoryTableMutations() []mutation {
	return []mutation{
		{name: "table removed", check: checkMemoryTable, want: "MemoryTable: missing",
			edits: [][2]string{{"    Type: AWS::DynamoDB::Table\n", "    Type: AWS::DynamoDB::GlobalTable\n"}}},
		{name: "deleted with the stack", check: checkMemoryTable, want: "DeletionPolicy Delete",
			edits: [][2]string{{memoryPolicies, strings.Replace(memoryPolicies, "DeletionPolicy: Retain", "DeletionPolicy: Delete", 1)}}},
		{name: "snapshot instead of retain", check: checkMemoryTable, want: "DeletionPolicy Snapshot",
			edits: [][2]string{{memoryPolicies, strings.Replace(memoryPolicies, "DeletionPolicy: Retain", "DeletionPolicy: Snapshot", 1)}}},
		{name: "no UpdateReplacePolicy", check: checkMemoryTable, want: "UpdateReplacePolicy <nil>",
			edits: [][2]string{{memoryPolicies, strings.Replace(memoryPolicies, "    UpdateReplacePolicy: Retain\n", "", 1)}}},
		{name: "provisioned", check: checkMemoryTable, want: "BillingMode PROVISIONED",
			edits: [][2]string{{"      BillingMode: PAY_PER_REQUEST\n", "      BillingMode: PROVISIONED\n      ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}\n"}}},
		{name: "no BillingMode", check: checkMemoryTable, want: "BillingMode <nil>",
			edits: [][2]string{{"      BillingMode: PAY_PER_REQUEST\n", ""}}},
		{name: "PITR off", check: checkMemoryTable, want: "PointInTimeRecoveryEnabled false",
			edits: [][2]string{{pitr, strings.Replace(pitr, "true", "false", 1)}}},
		{name: "no PITR", check: checkMemoryTable, want: "PointInTimeRecoveryEnabled <nil>",
			edits: [][2]string{{pitr, ""}}},
		{name: "PITR only in one branch", check: checkMemoryTable, want: "PointInTimeRecoveryEnabled map[Fn::If",
			edits: [][2]string{{pitr, strings.Replace(pitr, "true", "!If [HasFallback, true, false]", 1)}}},
		{name: "deletable from outside", check: checkMemoryTable, want: "DeletionProtectionEnabled <nil>",
			edits: [][2]string{{"      DeletionProtectionEnabled: true\n", ""}}},
		{name: "SSE off", check: checkMemoryTable, want: "SSEEnabled false",
			edits: [][2]string{{"        SSEEnabled: true\n", "        SSEEnabled: false\n"}}},
		{name: "TTL on another attribute", check: checkMemoryTable, want: "AttributeName ttl",
			edits: [][2]string{{ttl, strings.Replace(ttl, "expiresAt", "ttl", 1)}}},
		{name: "TTL off", check: checkMemoryTable, want: "TimeToLiveSpecification.Enabled false",
			edits: [][2]string{{ttl, strings.Replace(ttl, "Enabled: true", "Enabled: false", 1)}}},
		{name: "pk a number", check: checkMemoryTable, want: "AttributeDefinitions pk [N]",
			edits: [][2]string{{pkDefinition, strings.Replace(pkDefinition, "AttributeType: S", "AttributeType: N", 1)}}},
		{name: "no sort key", check: checkMemoryTable, want: "want pk HASH and sk RANGE",
			edits: [][2]string{{skKey, ""}}},
		{name: "sk as the hash key", check: checkMemoryTable, want: "want pk HASH and sk RANGE",
			edits: [][2]string{{skKey, strings.Replace(skKey, "RANGE", "HASH", 1)}}},
		{name: "a fixed table name", check: checkMemoryTable, want: "TableName rewind-memory",
			edits: [][2]string{{"      BillingMode: PAY_PER_REQUEST\n", "      BillingMode: PAY_PER_REQUEST\n      TableName: rewind-memory\n"}}},
		{name: "only under a condition", check: checkMemoryTable, want: "Condition HasFallback",
			edits: [][2]string{{"    Type: AWS::DynamoDB::Table\n", "    Type: AWS::DynamoDB::Table\n    Condition: HasFallback\n"}}},
		// An equivalent spelling must keep passing.
		{name: "booleans as strings pass", check: checkMemoryTable, want: "",
			edits: [][2]string{{pitr, strings.Replace(pitr, "true", `"true"`, 1)}, {ttl, strings.Replace(ttl, "Enabled: true", `Enabled: "true"`, 1)}}},
	}
}

// ---- the function's wiring to it ----

// auditRetentionMin and auditRetentionMax bound AUDIT_RETENTION_DAYS as the config reads it.
const (
	auditRetentionMin = 1
	auditRetentionMax = 3650
)

// checkMemoryWiring: MEMORY_TABLE is !Ref MemoryTable (a literal name would point at a table this
// stack does not create and the role may not use); AUDIT_RETENTION_DAYS is a whole number the config
// accepts, or a parameter that cannot hold anything else; the stack outputs the table's name.
func checkMemoryWiring(t *Template) []problem {
	var ps problems
	props, ok := functionProps(t)
	if !ok {
		ps.add(functionID, "missing, or not an AWS::Serverless::Function")
		return ps
	}
	vars := envVars(props)
	if fn, arg, _ := intrinsic(vars["MEMORY_TABLE"]); fn != "Ref" || arg != memoryTableID {
		ps.add(functionID, "MEMORY_TABLE %v: want !Ref %s, the table this stack creates and the role may use", vars["MEMORY_TABLE"], memoryTableID)
	}
	ps = append(ps, checkRetention(t, vars["AUDIT_RETENTION_DAYS"])...)
	out, _ := t.Outputs["MemoryTableName"].(map[string]any)
	if fn, arg, _ := intrinsic(out["Value"]); fn != "Ref" || arg != memoryTableID {
		ps.add("Outputs", "MemoryTableName %v: want an output whose Value is !Ref %s", t.Outputs["MemoryTableName"], memoryTableID)
	}
	return ps
}

// checkRetention: AUDIT_RETENTION_DAYS (v) is a literal the config accepts, or !Ref of a Number
// parameter whose bounds and default keep to what the config accepts.
func checkRetention(t *Template, v any) []problem {
	var ps problems
	w := functionID + " AUDIT_RETENTION_DAYS"
	inRange := func(n int64) bool { return n >= auditRetentionMin && n <= auditRetentionMax }
	fn, arg, isFn := intrinsic(v)
	if !isFn {
		if n, ok := asInt(v); !ok || !inRange(n) {
			ps.add(w, "%v: want a whole number %d..%d, or a parameter bounded so", v, auditRetentionMin, auditRetentionMax)
		}
		return ps
	}
	name, _ := arg.(string)
	param, isParam := t.Parameters[name].(map[string]any)
	if fn != "Ref" || !isParam {
		ps.add(w, "%v: want !Ref of a parameter (or a literal number)", v)
		return ps
	}
	w = "Parameters " + name
	if typ, _ := param["Type"].(string); typ != "Number" {
		ps.add(w, "Type %v: want Number", param["Type"])
	}
	lo, okLo := asInt(param["MinValue"])
	hi, okHi := asInt(param["MaxValue"])
	if !okLo || !okHi || lo < auditRetentionMin || hi > auditRetentionMax {
		ps.add(w, "MinValue %v, MaxValue %v: want bounds within %d..%d, which the config accepts (the function would fail at init)",
			param["MinValue"], param["MaxValue"], auditRetentionMin, auditRetentionMax)
	}
	if d, present := param["Default"]; present {
		if n, ok := asInt(d); !ok || !inRange(n) || (okLo && n < lo) || (okHi && n > hi) {
			ps.add(w, "Default %v: want a whole number within the bounds", d)
		}
	}
	return ps
}

func TestTemplateFunctionUsesItsOwnMemoryTable(t *testing.T) {
	report(t, checkMemoryWiring(loadReal(t)))
}

// The function's wiring to the table in the template, for the broken copies.
const (
	memoryEnv      = "          MEMORY_TABLE: !Ref MemoryTable\n"
	retentionParam = "    Default: 400\n    MinValue: 1\n    MaxValue: 3650\n"
)

func memoryWiringMutations() []mutation {
	return []mutation{
		{name: "MEMORY_TABLE a literal name", check: checkMemoryWiring, want: "MEMORY_TABLE rewind-memory",
			edits: [][2]string{{memoryEnv, "          MEMORY_TABLE: rewind-memory\n"}}},
		{name: "MEMORY_TABLE the table's ARN", check: checkMemoryWiring, want: "MEMORY_TABLE map[Fn::GetAtt",
			edits: [][2]string{{memoryEnv, "          MEMORY_TABLE: !GetAtt MemoryTable.Arn\n"}}},
		{name: "MEMORY_TABLE as a Sub of the Ref", check: checkMemoryWiring, want: "MEMORY_TABLE map[Fn::Sub",
			edits: [][2]string{{memoryEnv, "          MEMORY_TABLE: !Sub \"${MemoryTable}\"\n"}}},
		{name: "MEMORY_TABLE missing", check: checkMemoryWiring, want: "MEMORY_TABLE <nil>",
			edits: [][2]string{{memoryEnv, ""}}},
		{name: "retention up to 100 years", check: checkMemoryWiring, want: "MaxValue 36500",
			edits: [][2]string{{retentionParam, strings.Replace(retentionParam, "3650", "36500", 1)}}},
		{name: "retention unbounded below", check: checkMemoryWiring, want: "MinValue <nil>",
			edits: [][2]string{{retentionParam, strings.Replace(retentionParam, "    MinValue: 1\n", "", 1)}}},
		{name: "retention a string", check: checkMemoryWiring, want: "Type String",
			edits: [][2]string{{"  AuditRetentionDays:\n    Type: Number\n", "  AuditRetentionDays:\n    Type: String\n"}}},
		{name: "retention default 0", check: checkMemoryWiring, want: "Default 0",
			edits: [][2]string{{retentionParam, strings.Replace(retentionParam, "Default: 400", "Default: 0", 1)}}},
		{name: "retention a literal out of range", check: checkMemoryWiring, want: "AUDIT_RETENTION_DAYS: 5000",
			edits: [][2]string{{"AUDIT_RETENTION_DAYS: !Ref AuditRetentionDays", "AUDIT_RETENTION_DAYS: 5000"}}},
		{name: "no MemoryTableName output", check: checkMemoryWiring, want: "MemoryTableName <nil>",
			edits: [][2]string{{"  MemoryTableName:\n", "  MemoryTable:\n"}}},
		// Equivalent spellings must keep passing.
		{name: "retention a literal in range passes", check: checkMemoryWiring, want: "",
			edits: [][2]string{{"AUDIT_RETENTION_DAYS: !Ref AuditRetentionDays", "AUDIT_RETENTION_DAYS: 30"}}},
		{name: "MEMORY_TABLE in Globals passes", check: checkMemoryWiring, want: "",
			edits: [][2]string{{memoryEnv, ""},
				{"\nResources:\n", "\nGlobals:\n  Function:\n    Environment:\n      Variables:\n        MEMORY_TABLE: !Ref MemoryTable\n\nResources:\n"}}},
	}
}
