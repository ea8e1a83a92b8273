package dynamodb

import (
	"fmt"
	"regexp"
	"slices"
	"time"
)

// table is one table: its key schema and its items by partition and sort key.
type table struct {
	name      string
	hash, rng string // key attribute names; rng is "" without a sort key
	created   time.Time
	items     map[string]map[string]item
}

func newTable(name, hash, rng string, created time.Time) *table {
	return &table{name: name, hash: hash, rng: rng, created: created, items: map[string]map[string]item{}}
}

// key is an item's primary key; sk is "" without a sort key.
type key struct{ pk, sk string }

func (t *table) get(k key) (item, bool) {
	it, ok := t.items[k.pk][k.sk]
	return it, ok
}

// set stores it under k; nil deletes.
func (t *table) set(k key, it item) {
	if it == nil {
		delete(t.items[k.pk], k.sk)
		if len(t.items[k.pk]) == 0 {
			delete(t.items, k.pk)
		}
		return
	}
	if t.items[k.pk] == nil {
		t.items[k.pk] = map[string]item{}
	}
	t.items[k.pk][k.sk] = it
}

func (t *table) count() int {
	n := 0
	for _, p := range t.items {
		n += len(p)
	}
	return n
}

func (t *table) keyNames() []string {
	if t.rng == "" {
		return []string{t.hash}
	}
	return []string{t.hash, t.rng}
}

// DynamoDB's limits on key values, in bytes.
const (
	maxPartitionKey = 2048
	maxSortKey      = 1024
)

// keyOf reads the Key member of GetItem, DeleteItem, UpdateItem or a transaction item: exactly the
// key attributes, strings, not empty.
func (t *table) keyOf(attrs item) (key, *apiError) {
	const mismatch = "The provided key element does not match the schema"
	if len(attrs) != len(t.keyNames()) {
		return key{}, validation(mismatch)
	}
	for _, name := range t.keyNames() {
		if v, ok := attrs[name]; !ok || v.kind != "S" {
			return key{}, validation(mismatch)
		}
	}
	return t.checkKey(attrs)
}

// itemKey reads the key of an item to put, with PutItem's messages.
func (t *table) itemKey(it item) (key, *apiError) {
	for _, name := range t.keyNames() {
		v, ok := it[name]
		if !ok {
			return key{}, validationf("One or more parameter values were invalid: Missing the key %s in the item", name)
		}
		if v.kind != "S" {
			return key{}, validationf("One or more parameter values were invalid: Type mismatch for key %s expected: S actual: %s", name, v.kind)
		}
	}
	return t.checkKey(it)
}

func (t *table) checkKey(attrs item) (key, *apiError) {
	k := key{pk: attrs[t.hash].str}
	if t.rng != "" {
		k.sk = attrs[t.rng].str
	}
	for _, name := range t.keyNames() {
		if attrs[name].str == "" {
			return key{}, validation("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: " + name)
		}
	}
	if len(k.pk) > maxPartitionKey {
		return key{}, validationf("One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of%d bytes", maxPartitionKey)
	}
	if len(k.sk) > maxSortKey {
		return key{}, validationf("One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of %d bytes", maxSortKey)
	}
	return k, nil
}

// keyItem is the key as attributes, for LastEvaluatedKey and an UpdateItem that creates its item.
func (t *table) keyItem(k key) item {
	it := item{t.hash: str(k.pk)}
	if t.rng != "" {
		it[t.rng] = str(k.sk)
	}
	return it
}

// table finds a table for an item operation (s.mu held).
func (s *Server) table(name string) (*table, *apiError) {
	if t := s.tables[name]; t != nil {
		return t, nil
	}
	return nil, notFound()
}

type keySchemaElement struct {
	AttributeName string `json:"AttributeName"`
	KeyType       string `json:"KeyType"`
}

type attributeDefinition struct {
	AttributeName string `json:"AttributeName"`
	AttributeType string `json:"AttributeType"`
}

var tableNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

func checkTableName(name string) *apiError {
	if !tableNameRE.MatchString(name) {
		return validationf("1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 3 and 255", name)
	}
	return nil
}

func (s *Server) createTable(body []byte) (any, *apiError) {
	var in struct {
		TableName            string
		KeySchema            []keySchemaElement
		AttributeDefinitions []attributeDefinition
		BillingMode          string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkTableName(in.TableName); err != nil {
		return nil, err
	}
	if in.BillingMode != "PAY_PER_REQUEST" {
		return nil, notModeled("BillingMode " + fmt.Sprintf("%q", in.BillingMode) + " (only PAY_PER_REQUEST, Rewind's)")
	}
	hash, rng, err := keySchema(in.KeySchema, in.AttributeDefinitions)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tables[in.TableName] != nil {
		return nil, &apiError{status: 400, code: "ResourceInUseException", msg: "Table already exists: " + in.TableName}
	}
	t := newTable(in.TableName, hash, rng, s.now())
	s.tables[in.TableName] = t
	// AWS answers CREATING and the table turns ACTIVE later; here it is ACTIVE at once, so a client
	// that waits sees ACTIVE on its first DescribeTable.
	return map[string]any{"TableDescription": t.describe("CREATING")}, nil
}

// keySchema checks a HASH (and optional RANGE) key of strings whose attributes are exactly the ones
// defined.
func keySchema(ks []keySchemaElement, defs []attributeDefinition) (hash, rng string, _ *apiError) {
	if len(ks) == 0 || len(ks) > 2 || ks[0].KeyType != "HASH" || len(ks) == 2 && ks[1].KeyType != "RANGE" {
		return "", "", validation("1 validation error detected: the KeySchema must be one HASH key, optionally followed by one RANGE key")
	}
	var used []string
	for _, k := range ks {
		used = append(used, k.AttributeName)
	}
	var defined []string
	for _, d := range defs {
		defined = append(defined, d.AttributeName)
		if d.AttributeType != "S" {
			return "", "", notModeled("key attributes of type " + d.AttributeType + " (only S, Rewind's)")
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(used)), slices.Sorted(slices.Values(defined))) {
		return "", "", validationf("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: %v, AttributeDefinitions: %v", used, defined)
	}
	if len(ks) == 2 {
		rng = ks[1].AttributeName
	}
	return ks[0].AttributeName, rng, nil
}

func (t *table) describe(status string) map[string]any {
	ks := []keySchemaElement{{t.hash, "HASH"}}
	defs := []attributeDefinition{{t.hash, "S"}}
	if t.rng != "" {
		ks = append(ks, keySchemaElement{t.rng, "RANGE"})
		defs = append(defs, attributeDefinition{t.rng, "S"})
	}
	size := 0
	for _, p := range t.items {
		for _, it := range p {
			size += itemSize(it)
		}
	}
	created := float64(t.created.UnixMilli()) / 1000
	return map[string]any{
		"TableName": t.name, "TableStatus": status, "KeySchema": ks, "AttributeDefinitions": defs,
		"CreationDateTime": created, "ItemCount": t.count(), "TableSizeBytes": size,
		"TableArn":                  "arn:aws:dynamodb:us-east-1:123456789012:table/" + t.name,
		"TableId":                   fmt.Sprintf("00000000-0000-4000-8000-%012d", t.created.UnixMilli()%1e12),
		"BillingModeSummary":        map[string]any{"BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": created},
		"ProvisionedThroughput":     map[string]any{"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
		"DeletionProtectionEnabled": false,
	}
}

func (s *Server) describeTable(body []byte) (any, *apiError) {
	var in struct{ TableName string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[in.TableName]
	if t == nil {
		return nil, tableNotFound(in.TableName)
	}
	return map[string]any{"Table": t.describe("ACTIVE")}, nil
}

func (s *Server) deleteTable(body []byte) (any, *apiError) {
	var in struct{ TableName string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[in.TableName]
	if t == nil {
		return nil, tableNotFound(in.TableName)
	}
	delete(s.tables, in.TableName)
	// AWS answers DELETING and then forgets the table; here it is gone at once.
	return map[string]any{"TableDescription": t.describe("DELETING")}, nil
}
