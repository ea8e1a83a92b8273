package dynamodb_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestConformance runs every scenario through the real SDK v2 client against the local Server,
// moto_server and dynalite (subtests local, moto, dynalite), and each scenario asserts the same
// observable answer from all three: error codes, items, LastEvaluatedKey, order. Where moto and
// dynalite differ from each other the scenario asserts what each answers, says which one matches
// the DynamoDB API reference, and holds the local Server to AWS.
func TestConformance(t *testing.T) {
	for _, name := range []string{local, moto, dynalite} {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // three servers, so the backends' scenarios overlap
			b := startBackend(t, name)
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) { sc.run(t, b) })
			}
		})
	}
}

var ctx = context.Background()

var scenarios = []struct {
	name string
	run  func(t *testing.T, b *backend)
}{
	{"create table", createTable},
	{"put then get round-trips every attribute type", roundTrip},
	{"numbers compare by value", numbersByValue},
	{"numbers come back trimmed", numbersTrimmed},
	{"ReturnValues ALL_OLD", returnValuesAllOld},
	{"conditional put attribute_not_exists", putIfAbsent},
	{"versioned compare-and-set", compareAndSet},
	{"ReturnValuesOnConditionCheckFailure ALL_OLD", allOldOnFailure},
	{"not-equal holds for a missing attribute", notEqualMissing},
	{"query begins_with descending pages by Limit", queryPages},
	{"query sort key comparisons and BETWEEN", querySortKey},
	{"query filters after Limit, through map members", queryFilter},
	{"transaction with a failing ConditionCheck cancels every write", transactionCancels},
	{"transaction retried with its token", transactionRetried},
	{"update SET and REMOVE", updateSetRemove},
	{"unknown table", unknownTable},
	{"undefined, unused and reserved placeholders", placeholders},
	{"wrong key schema", wrongKey},
	{"item over 400 KB", itemTooBig},
}

func createTable(t *testing.T, b *backend) {
	_, out := b.table(t)
	// AWS answers CREATING (the API reference: "CreateTable is an asynchronous operation. Upon
	// receiving a CreateTable request, DynamoDB immediately returns a response with a TableStatus of
	// CREATING"); dynalite does too, moto answers ACTIVE at once.
	want := types.TableStatusCreating
	if b.name == moto {
		want = types.TableStatusActive
	}
	if got := out.TableDescription.TableStatus; got != want {
		t.Errorf("CreateTable's TableStatus %s, want %s", got, want)
	}
	d, err := b.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: out.TableDescription.TableName})
	if err != nil {
		t.Fatal(err)
	}
	ks := d.Table.KeySchema
	if len(ks) != 2 || *ks[0].AttributeName != "pk" || ks[0].KeyType != types.KeyTypeHash || *ks[1].AttributeName != "sk" || ks[1].KeyType != types.KeyTypeRange {
		t.Errorf("KeySchema %+v", ks)
	}
	if d.Table.BillingModeSummary == nil || d.Table.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("BillingModeSummary %+v", d.Table.BillingModeSummary)
	}
	_, err = b.client.CreateTable(ctx, createTableInput(*out.TableDescription.TableName))
	wantCode(t, "CreateTable again", err, "ResourceInUseException")
}

func roundTrip(t *testing.T, b *backend) {
	table, _ := b.table(t)
	item := with(key("deploy#api", "bad#2026-11-25"),
		"s", s("text ✓"), "empty", s(""), "n", n("42"), "neg", n("-3.14"),
		"b", &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}},
		"yes", &types.AttributeValueMemberBOOL{Value: true}, "no", &types.AttributeValueMemberBOOL{Value: false},
		"null", &types.AttributeValueMemberNULL{Value: true},
		"l", &types.AttributeValueMemberL{Value: []types.AttributeValue{s("a"), n("1"), &types.AttributeValueMemberL{}}},
		"m", &types.AttributeValueMemberM{Value: attrs{"x": s("y"), "deep": &types.AttributeValueMemberM{Value: attrs{"z": n("0")}}}},
		"ss", &types.AttributeValueMemberSS{Value: []string{"b", "a"}},
		"ns", &types.AttributeValueMemberNS{Value: []string{"2", "10"}},
		"bs", &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2}}})
	b.put(t, table, item)
	if got, want := render(b.get(t, table, key("deploy#api", "bad#2026-11-25"))), render(item); got != want {
		t.Errorf("GetItem\n got %s\nwant %s", got, want)
	}
	if got := b.get(t, table, key("deploy#api", "nope")); got != nil {
		t.Errorf("GetItem of a missing item: %v", render(got))
	}
}

func numbersByValue(t *testing.T, b *backend) {
	table, _ := b.table(t)
	b.put(t, table, with(key("p", "s"), "n", n("10")))
	_, err := b.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: with(key("p", "s"), "n", n("11")),
		ConditionExpression:       aws.String("n = :ten AND n > :nine"),
		ExpressionAttributeValues: attrs{":ten": n("10.0"), ":nine": n("9")}}) // as text, "10" < "9"
	wantCode(t, "10 = 10.0 AND 10 > 9", err, "")
}

func numbersTrimmed(t *testing.T, b *backend) {
	table, _ := b.table(t)
	b.put(t, table, with(key("p", "s"), "a", n("007.50"), "b", n("1E2"), "c", n("-0.0"), "ns", &types.AttributeValueMemberNS{Value: []string{"1.0", "02"}}))
	out, err := b.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key("p", "s"), UpdateExpression: aws.String("SET a = a + :x"),
		ExpressionAttributeValues: attrs{":x": n("0.50")}, ReturnValues: types.ReturnValueAllNew})
	if err != nil {
		t.Fatal(err)
	}
	// AWS trims numbers ("Leading and trailing zeroes are trimmed", the Developer Guide's data types)
	// and writes them without exponent; dynalite does the same. moto keeps the text it was sent, and
	// keeps trailing zeros in a sum.
	want := render(with(key("p", "s"), "a", n("8"), "b", n("100"), "c", n("0"), "ns", &types.AttributeValueMemberNS{Value: []string{"1", "2"}}))
	if b.name == moto {
		want = render(with(key("p", "s"), "a", n("8.00"), "b", n("1E2"), "c", n("-0.0"), "ns", &types.AttributeValueMemberNS{Value: []string{"1.0", "02"}}))
	}
	if got := render(out.Attributes); got != want {
		t.Errorf("numbers\n got %s\nwant %s", got, want)
	}
}

func returnValuesAllOld(t *testing.T, b *backend) {
	table, _ := b.table(t)
	first := with(key("p", "s"), "v", n("1"))
	out, err := b.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: first, ReturnValues: types.ReturnValueAllOld})
	if err != nil || out.Attributes != nil {
		t.Errorf("PutItem of a new item, ALL_OLD: %v %s", err, render(out.Attributes))
	}
	out, err = b.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: with(key("p", "s"), "v", n("2")), ReturnValues: types.ReturnValueAllOld})
	if err != nil || render(out.Attributes) != render(first) {
		t.Errorf("PutItem over an item, ALL_OLD: %v %s", err, render(out.Attributes))
	}
	del, err := b.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: key("p", "s"), ReturnValues: types.ReturnValueAllOld})
	if err != nil || render(del.Attributes) != render(with(key("p", "s"), "v", n("2"))) {
		t.Errorf("DeleteItem, ALL_OLD: %v %s", err, render(del.Attributes))
	}
	del, err = b.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: key("p", "s"), ReturnValues: types.ReturnValueAllOld})
	if err != nil || del.Attributes != nil {
		t.Errorf("DeleteItem of a missing item: %v %s", err, render(del.Attributes))
	}
}

func putIfAbsent(t *testing.T, b *backend) {
	table, _ := b.table(t)
	in := &dynamodb.PutItemInput{TableName: &table, Item: with(key("claim#api", "lock"), "owner", s("a")),
		ConditionExpression: aws.String("attribute_not_exists(pk)")}
	_, err := b.client.PutItem(ctx, in)
	wantCode(t, "first put", err, "")
	in.Item = with(key("claim#api", "lock"), "owner", s("b"))
	_, err = b.client.PutItem(ctx, in)
	wantCode(t, "second put", err, "ConditionalCheckFailedException")
	if got := b.get(t, table, key("claim#api", "lock")); render(got) != render(with(key("claim#api", "lock"), "owner", s("a"))) {
		t.Errorf("after the refused put: %s", render(got))
	}
}

func compareAndSet(t *testing.T, b *backend) {
	table, _ := b.table(t)
	b.put(t, table, with(key("incident#1", "state"), "v", n("1"), "state", s("open")))
	cas := func(from, to, state string) error {
		_, err := b.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key("incident#1", "state"),
			UpdateExpression:          aws.String("SET #v = :to, #state = :state"),
			ConditionExpression:       aws.String("#v = :from"),
			ExpressionAttributeNames:  map[string]string{"#v": "v", "#state": "state"},
			ExpressionAttributeValues: attrs{":from": n(from), ":to": n(to), ":state": s(state)}})
		return err
	}
	wantCode(t, "the first writer, from version 1", cas("1", "2", "mitigating"), "")
	wantCode(t, "the second writer, also from version 1", cas("1", "2", "resolved"), "ConditionalCheckFailedException")
	want := with(key("incident#1", "state"), "v", n("2"), "state", s("mitigating"))
	if got := b.get(t, table, key("incident#1", "state")); render(got) != render(want) {
		t.Errorf("after the race: %s, want %s", render(got), render(want))
	}
}

func allOldOnFailure(t *testing.T, b *backend) {
	table, _ := b.table(t)
	current := with(key("claim#api", "lock"), "owner", s("a"), "until", n("1764000000"))
	b.put(t, table, current)
	_, err := b.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: with(key("claim#api", "lock"), "owner", s("b")),
		ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("PutItem over a claim: %v, want ConditionalCheckFailedException", err)
	}
	// AWS returns the item as it is (the API reference: "Use ReturnValuesOnConditionCheckFailure to
	// get the item attributes if the PutItem operation failed a condition check"), and so does moto;
	// dynalite 4.0.0 does not know the member, ignores it and returns no Item.
	want := render(current)
	if b.name == dynalite {
		want = "null"
	}
	if got := render(ccf.Item); got != want {
		t.Errorf("the failure's Item: %s, want %s", got, want)
	}
	_, err = b.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: key("claim#api", "lock"),
		ConditionExpression: aws.String("#o = :me"), ExpressionAttributeNames: map[string]string{"#o": "owner"},
		ExpressionAttributeValues: attrs{":me": s("b")}, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureNone})
	if !errors.As(err, &ccf) || ccf.Item != nil {
		t.Errorf("DeleteItem with NONE: %v, item %v; want ConditionalCheckFailedException without an item", err, ccf)
	}
}

func notEqualMissing(t *testing.T, b *backend) {
	table, _ := b.table(t)
	b.put(t, table, key("p", "s"))
	_, err := b.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: key("p", "s"),
		ConditionExpression:       aws.String("owner_id <> :me AND NOT begins_with(owner_id, :me) AND (attribute_not_exists(owner_id) OR owner_id = :me)"),
		ExpressionAttributeValues: attrs{":me": s("rewind")}})
	wantCode(t, "a missing attribute is <> anything", err, "")
}

func updateSetRemove(t *testing.T, b *backend) {
	table, _ := b.table(t)
	b.put(t, table, with(key("incident#1", "state"), "a", s("old"), "b", s("gone"), "count", n("1"),
		"m", &types.AttributeValueMemberM{Value: attrs{"x": s("1"), "y": s("2")}}))
	out, err := b.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key("incident#1", "state"),
		UpdateExpression:          aws.String("SET a = :a, #m.#x = :x, #c = #c + :one, fresh = if_not_exists(fresh, :zero), notes = list_append(if_not_exists(notes, :none), :note) REMOVE b, #m.y"),
		ExpressionAttributeNames:  map[string]string{"#m": "m", "#x": "x", "#c": "count"},
		ExpressionAttributeValues: attrs{":a": s("new"), ":x": s("10"), ":one": n("1"), ":zero": n("0"), ":none": &types.AttributeValueMemberL{}, ":note": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("rolled back")}}},
		ReturnValues:              types.ReturnValueAllNew})
	if err != nil {
		t.Fatal(err)
	}
	want := with(key("incident#1", "state"), "a", s("new"), "count", n("2"), "fresh", n("0"),
		"m", &types.AttributeValueMemberM{Value: attrs{"x": s("10")}},
		"notes", &types.AttributeValueMemberL{Value: []types.AttributeValue{s("rolled back")}})
	if render(out.Attributes) != render(want) || render(b.get(t, table, key("incident#1", "state"))) != render(want) {
		t.Errorf("UpdateItem ALL_NEW %s\nstored %s\nwant %s", render(out.Attributes), render(b.get(t, table, key("incident#1", "state"))), render(want))
	}
	out, err = b.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key("incident#2", "state"),
		UpdateExpression: aws.String("SET a = :a"), ExpressionAttributeValues: attrs{":a": s("created")}, ReturnValues: types.ReturnValueAllNew})
	if err != nil || render(out.Attributes) != render(with(key("incident#2", "state"), "a", s("created"))) {
		t.Errorf("UpdateItem of a missing item: %v %s, want it created", err, render(out.Attributes))
	}
	_, err = b.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key("incident#2", "state"),
		UpdateExpression: aws.String("SET sk = :a"), ExpressionAttributeValues: attrs{":a": s("x")}})
	wantCode(t, "SET of a key attribute", err, "ValidationException")
	_, err = b.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key("incident#2", "state"),
		UpdateExpression: aws.String("SET a = :a REMOVE a"), ExpressionAttributeValues: attrs{":a": s("x")}})
	wantCode(t, "SET and REMOVE of one path", err, "ValidationException")
}

func unknownTable(t *testing.T, b *backend) {
	missing := aws.String("no-such-table")
	_, err := b.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: missing, Key: key("p", "s")})
	wantCode(t, "GetItem", err, "ResourceNotFoundException")
	_, err = b.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: missing, Item: key("p", "s")})
	wantCode(t, "PutItem", err, "ResourceNotFoundException")
	_, err = b.client.Query(ctx, &dynamodb.QueryInput{TableName: missing, KeyConditionExpression: aws.String("pk = :p"), ExpressionAttributeValues: attrs{":p": s("p")}})
	wantCode(t, "Query", err, "ResourceNotFoundException")
	_, err = b.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: missing})
	wantCode(t, "DescribeTable", err, "ResourceNotFoundException")
}

func placeholders(t *testing.T, b *backend) {
	table, _ := b.table(t)
	// moto 5.2.1 answers some of these with an HTML 500 (a Python KeyError or ValueError) and takes
	// an unused :value; AWS and dynalite answer ValidationException to all of them.
	for _, c := range []struct {
		what, cond string
		names      map[string]string
		values     attrs
		moto       string
	}{
		{"an undefined :value", "owner_id = :me", nil, nil, motoCrash},
		{"an unused :value", "attribute_not_exists(pk)", nil, attrs{":me": s("x")}, ""},
		{"an undefined #name", "#o = :me", nil, attrs{":me": s("x")}, motoCrash},
		{"an unused #name", "attribute_not_exists(pk)", map[string]string{"#o": "owner"}, nil, "ValidationException"},
		{"a reserved word", "status = :s", nil, attrs{":s": s("x")}, "ValidationException"},
		{"a syntax error", "pk = = :s", nil, attrs{":s": s("x")}, motoCrash},
	} {
		_, err := b.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: key("p", c.what), ConditionExpression: &c.cond,
			ExpressionAttributeNames: c.names, ExpressionAttributeValues: c.values})
		wantCode(t, c.what, err, unlessMoto(b, "ValidationException", c.moto))
		if got := b.get(t, table, key("p", c.what)); (got != nil) != (b.name == moto && c.moto == "") {
			t.Errorf("%s: stored %s", c.what, render(got))
		}
	}
	_, err := b.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key("p", "s"), UpdateExpression: aws.String("SET a = :a")})
	wantCode(t, "an undefined :value in an update", err, "ValidationException")
	_, err = b.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key("p", "s"), UpdateExpression: aws.String("SET #status = :a"),
		ExpressionAttributeValues: attrs{":a": s("x")}})
	wantCode(t, "an undefined #name in an update", err, unlessMoto(b, "ValidationException", motoCrash))
}

// unlessMoto is want, or moto's own answer where it differs from AWS's.
func unlessMoto(b *backend, want, motoAnswer string) string {
	if b.name == moto {
		return motoAnswer
	}
	return want
}

func wrongKey(t *testing.T, b *backend) {
	table, _ := b.table(t)
	// moto 5.2.1 takes a GetItem whose sort key is a number (and finds nothing) and an UpdateItem
	// with an empty partition key (and creates that item); AWS and dynalite refuse both.
	for _, c := range []struct {
		what            string
		k               attrs
		getMoto, upMoto string
	}{
		{"no sort key", attrs{"pk": s("p")}, "ValidationException", "ValidationException"},
		{"a number key", attrs{"pk": s("p"), "sk": n("1")}, "", "ValidationException"},
		{"an extra member", attrs{"pk": s("p"), "sk": s("s"), "x": s("y")}, "ValidationException", "ValidationException"},
		{"an empty key", attrs{"pk": s(""), "sk": s("s")}, "ValidationException", ""},
	} {
		_, err := b.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: c.k})
		wantCode(t, "GetItem with "+c.what, err, unlessMoto(b, "ValidationException", c.getMoto))
		_, err = b.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: c.k, UpdateExpression: aws.String("SET a = :a"),
			ExpressionAttributeValues: attrs{":a": s("x")}})
		wantCode(t, "UpdateItem with "+c.what, err, unlessMoto(b, "ValidationException", c.upMoto))
	}
	for what, item := range map[string]attrs{
		"no sort key":  {"pk": s("p")},
		"a number key": {"pk": s("p"), "sk": n("1")},
		"an empty key": {"pk": s("p"), "sk": s("")},
	} {
		_, err := b.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item})
		wantCode(t, "PutItem with "+what, err, "ValidationException")
	}
}

func itemTooBig(t *testing.T, b *backend) {
	table, _ := b.table(t)
	_, err := b.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: with(key("p", "s"), "blob", s(strings.Repeat("x", 400*1024)))})
	wantCode(t, "a 400 KB attribute", err, "ValidationException")
	_, err = b.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: with(key("p", "s"), "blob", s(strings.Repeat("x", 300*1024)))})
	wantCode(t, "a 300 KB attribute", err, "")
	_, err = b.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key("p", "s"), UpdateExpression: aws.String("SET more = :m"),
		ExpressionAttributeValues: attrs{":m": s(strings.Repeat("y", 200*1024))}})
	wantCode(t, "an update past 400 KB", err, "ValidationException")
}
