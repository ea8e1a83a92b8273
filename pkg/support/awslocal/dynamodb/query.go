package dynamodb

import (
	"maps"
	"slices"
)

type queryInput struct {
	TableName                 string
	KeyConditionExpression    *string
	FilterExpression          *string
	ExpressionAttributeNames  map[string]string
	ExpressionAttributeValues map[string]value
	ScanIndexForward          *bool
	Limit                     *int
	ExclusiveStartKey         item
	ConsistentRead            *bool
	Select                    string
	capacity
}

// query reads one page of a partition in sort key order. Limit bounds the items read, before the
// filter, and a page that Limit stopped ends with a LastEvaluatedKey even when nothing is left, as
// AWS documents ("If DynamoDB processes the number of items up to the limit ... it stops the
// operation and returns ... a key in LastEvaluatedKey").
func (s *Server) query(body []byte) (any, *apiError) {
	var in queryInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	if in.Select != "" && in.Select != "ALL_ATTRIBUTES" {
		return nil, notModeled("Select " + in.Select)
	}
	if in.Limit != nil && *in.Limit < 1 {
		return nil, validationf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *in.Limit)
	}
	if in.KeyConditionExpression == nil {
		return nil, validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.table(in.TableName)
	if err != nil {
		return nil, err
	}
	pk, skCond, filter, err := t.queryConditions(in)
	if err != nil {
		return nil, err
	}
	order, err := t.pageStart(in, pk)
	if err != nil {
		return nil, err
	}
	items, scanned, lastKey := t.page(pk, order, skCond, filter, in.Limit)
	out := map[string]any{"Items": items, "Count": len(items), "ScannedCount": scanned}
	if lastKey != nil {
		out["LastEvaluatedKey"] = lastKey
	}
	return out, nil
}

// page reads the items of partition pk at the sort keys in order that meet skCond, at most limit of
// them, and keeps those that pass the filter; lastKey is the last one read if limit stopped it.
func (t *table) page(pk string, order []string, skCond, filter *cond, limit *int) (items []item, scanned int, lastKey item) {
	items = []item{}
	for _, sk := range order {
		it := t.items[pk][sk]
		if skCond != nil && !skCond.eval(it) {
			continue
		}
		if limit != nil && scanned == *limit {
			break
		}
		scanned++
		if filter == nil || filter.eval(it) {
			items = append(items, it)
		}
		if limit != nil && scanned == *limit {
			lastKey = t.keyItem(key{pk, sk})
		}
	}
	return items, scanned, lastKey
}

// queryConditions reads the key condition (the partition's key, and the sort key's condition if
// any) and the filter.
func (t *table) queryConditions(in queryInput) (pk string, skCond, filter *cond, _ *apiError) {
	if err := checkPlaceholders(conditional{ExpressionAttributeNames: in.ExpressionAttributeNames,
		ExpressionAttributeValues: in.ExpressionAttributeValues}, in.KeyConditionExpression); err != nil {
		return "", nil, nil, err
	}
	ph := newPlaceholders(in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	kc, err := parseCondition("KeyConditionExpression", *in.KeyConditionExpression, ph)
	if err != nil {
		return "", nil, nil, err
	}
	if in.FilterExpression != nil {
		if filter, err = parseCondition("FilterExpression", *in.FilterExpression, ph); err != nil {
			return "", nil, nil, err
		}
		if name, ok := t.refersToKey(filter); ok {
			return "", nil, nil, validation("Filter Expression can only contain non-primary key attributes: Primary key attribute: " + name)
		}
	}
	if err := ph.unused(); err != nil {
		return "", nil, nil, err
	}
	pk, skCond, err = t.keyCondition(kc)
	return pk, skCond, filter, err
}

// keyCondition splits a key condition into the partition key's value and the sort key's condition.
func (t *table) keyCondition(c *cond) (pk string, skCond *cond, _ *apiError) {
	parts := []*cond{c}
	if c.op == "AND" {
		parts = c.kids
	}
	var hash *cond
	for _, part := range parts {
		switch part.op {
		case "=", "<", "<=", ">", ">=", "BETWEEN", "begins_with":
		case "AND":
			return "", nil, validation("KeyConditionExpressions must only contain one condition per key")
		default:
			return "", nil, validation("Invalid operator used in KeyConditionExpression: " + part.op)
		}
		if len(part.args[0].path) != 1 || slices.ContainsFunc(part.args[1:], func(o operand) bool { return o.val == nil }) {
			return "", nil, validation("Query key condition not supported")
		}
		for _, o := range part.args[1:] {
			if o.val.kind != "S" {
				return "", nil, validation("One or more parameter values were invalid: Condition parameter type does not match schema type")
			}
		}
		switch name := part.args[0].path[0]; {
		case name == t.hash && hash == nil && part.op == "=":
			hash = part
		case name == t.rng && t.rng != "" && skCond == nil:
			skCond = part
		case name == t.hash || name == t.rng:
			return "", nil, validation("KeyConditionExpressions must only contain one condition per key")
		default:
			return "", nil, validation("Query condition missed key schema element: " + t.hash)
		}
	}
	if hash == nil {
		return "", nil, validation("Query condition missed key schema element: " + t.hash)
	}
	return hash.args[1].val.str, skCond, nil
}

// refersToKey reports a key attribute the condition names.
func (t *table) refersToKey(c *cond) (string, bool) {
	for _, o := range c.args {
		if o.path != nil && slices.Contains(t.keyNames(), o.path[0]) {
			return o.path[0], true
		}
	}
	for _, k := range c.kids {
		if name, ok := t.refersToKey(k); ok {
			return name, true
		}
	}
	return "", false
}

// pageStart is the partition's sort keys in the query's order, after ExclusiveStartKey.
func (t *table) pageStart(in queryInput, pk string) ([]string, *apiError) {
	sks := slices.Sorted(maps.Keys(t.items[pk]))
	forward := in.ScanIndexForward == nil || *in.ScanIndexForward
	if !forward {
		slices.Reverse(sks)
	}
	if in.ExclusiveStartKey == nil {
		return sks, nil
	}
	start, err := t.keyOf(in.ExclusiveStartKey)
	if err != nil {
		return nil, validation("The provided starting key is invalid: " + err.msg)
	}
	if start.pk != pk {
		return nil, validation("The provided starting key is invalid: The provided key element does not match the query's partition key")
	}
	for i, sk := range sks {
		if forward && sk > start.sk || !forward && sk < start.sk {
			return sks[i:], nil
		}
	}
	return nil, nil
}
