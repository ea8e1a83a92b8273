package dynamodb

import (
	"slices"
)

// conditional are the members every write shares: its condition and placeholders.
type conditional struct {
	ConditionExpression                 *string
	ExpressionAttributeNames            map[string]string
	ExpressionAttributeValues           map[string]value
	ReturnValuesOnConditionCheckFailure string
}

// capacity are the reporting members the SDK may send; only their defaults are modeled.
type capacity struct {
	ReturnConsumedCapacity      string
	ReturnItemCollectionMetrics string
}

func (c capacity) check() *apiError {
	if c.ReturnConsumedCapacity != "" && c.ReturnConsumedCapacity != "NONE" {
		return notModeled("ReturnConsumedCapacity " + c.ReturnConsumedCapacity)
	}
	if c.ReturnItemCollectionMetrics != "" && c.ReturnItemCollectionMetrics != "NONE" {
		return notModeled("ReturnItemCollectionMetrics " + c.ReturnItemCollectionMetrics)
	}
	return nil
}

// write is one item write, checked and ready to run against the table's current item.
type write struct {
	t         *table
	k         key
	cond      *cond   // nil: unconditional
	returnOld bool    // ReturnValuesOnConditionCheckFailure ALL_OLD
	put       item    // PutItem: the new item
	upd       *update // UpdateItem: nil with no UpdateExpression
	isUpdate  bool
	del       bool // DeleteItem
}

// outcome is what the write would make of the table's item, without storing it: the item before
// (nil: none) and after (nil: none), or why it cannot run.
func (w *write) outcome() (before, after item, _ *apiError) {
	old, _ := w.t.get(w.k) // nil when there is none
	if w.cond != nil && !w.cond.eval(old) {
		if !w.returnOld {
			old = nil
		}
		return nil, nil, conditionalCheckFailed(old)
	}
	switch {
	case w.put != nil:
		return old, w.put, nil
	case w.del:
		return old, nil, nil
	case !w.isUpdate: // a transaction's ConditionCheck
		return old, old, nil
	}
	base := old
	if base == nil {
		base = w.t.keyItem(w.k)
	}
	if w.upd == nil {
		return old, base, nil
	}
	after, err := w.upd.apply(base)
	if err == nil && itemSize(after) > maxItemSize {
		err = validation("Item size to update has exceeded the maximum allowed size")
	}
	return old, after, err
}

// run carries the write out.
func (w *write) run() (before, after item, _ *apiError) {
	before, after, err := w.outcome()
	if err == nil {
		w.t.set(w.k, after)
	}
	return before, after, err
}

// prepare checks what a write needs before any item is read: its expressions and placeholders,
// its table and key (s.mu held). keyAttrs is the Key member; for a put, the item's key is used.
func (s *Server) prepare(tableName string, keyAttrs, put item, updateExpr *string, c conditional) (*write, *apiError) {
	if err := checkPlaceholders(c, updateExpr); err != nil {
		return nil, err
	}
	ph := newPlaceholders(c.ExpressionAttributeNames, c.ExpressionAttributeValues)
	w := &write{put: put}
	var err *apiError
	if c.ConditionExpression != nil {
		if w.cond, err = parseCondition("ConditionExpression", *c.ConditionExpression, ph); err != nil {
			return nil, err
		}
	}
	if updateExpr != nil {
		if w.upd, err = parseUpdate(*updateExpr, ph); err != nil {
			return nil, err
		}
	}
	if err := ph.unused(); err != nil {
		return nil, err
	}
	switch c.ReturnValuesOnConditionCheckFailure {
	case "", "NONE":
	case "ALL_OLD":
		w.returnOld = true
	default:
		return nil, enumError("returnValuesOnConditionCheckFailure", c.ReturnValuesOnConditionCheckFailure, "ALL_OLD, NONE")
	}
	if w.t, err = s.table(tableName); err != nil {
		return nil, err
	}
	return w, w.checkKey(keyAttrs)
}

// checkKey reads the write's key: a put's from its item, which must also fit in 400 KB, any
// other's from its Key member, which an update may not change.
func (w *write) checkKey(keyAttrs item) (err *apiError) {
	if w.put != nil {
		if w.k, err = w.t.itemKey(w.put); err == nil && itemSize(w.put) > maxItemSize {
			err = validation("Item size has exceeded the maximum allowed size")
		}
		return err
	}
	if w.k, err = w.t.keyOf(keyAttrs); err != nil || w.upd == nil {
		return err
	}
	for _, p := range w.upd.paths() {
		if slices.Contains(w.t.keyNames(), p) {
			return validationf("One or more parameter values were invalid: Cannot update attribute %s. This attribute is part of the key", p)
		}
	}
	return nil
}

// checkPlaceholders refuses empty placeholder maps, and placeholders where no expression could use
// them, with DynamoDB's messages.
func checkPlaceholders(c conditional, updateExpr *string) *apiError {
	if c.ExpressionAttributeNames != nil && len(c.ExpressionAttributeNames) == 0 {
		return validation("ExpressionAttributeNames must not be empty")
	}
	if c.ExpressionAttributeValues != nil && len(c.ExpressionAttributeValues) == 0 {
		return validation("ExpressionAttributeValues must not be empty")
	}
	if c.ConditionExpression == nil && updateExpr == nil {
		if c.ExpressionAttributeNames != nil {
			return validation("ExpressionAttributeNames can only be specified when using expressions")
		}
		if c.ExpressionAttributeValues != nil {
			return validation("ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null")
		}
	}
	return nil
}

func enumError(member, got, allowed string) *apiError {
	return validationf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", got, member, allowed)
}

// attributes is a write's answer: the item asked for by ReturnValues, if there is one.
func attributes(it item) map[string]any {
	if it == nil {
		return map[string]any{}
	}
	return map[string]any{"Attributes": it}
}

func (s *Server) getItem(body []byte) (any, *apiError) {
	var in struct {
		TableName      string
		Key            item
		ConsistentRead *bool
		capacity
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.table(in.TableName)
	if err != nil {
		return nil, err
	}
	k, err := t.keyOf(in.Key)
	if err != nil {
		return nil, err
	}
	if it, ok := t.get(k); ok {
		return map[string]any{"Item": it}, nil
	}
	return map[string]any{}, nil
}

func (s *Server) putItem(body []byte) (any, *apiError) {
	var in struct {
		TableName    string
		Item         item
		ReturnValues string
		conditional
		capacity
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	if in.ReturnValues != "" && in.ReturnValues != "NONE" && in.ReturnValues != "ALL_OLD" {
		return nil, validation("ReturnValues can only be ALL_OLD or NONE")
	}
	if in.Item == nil {
		in.Item = item{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w, err := s.prepare(in.TableName, nil, in.Item, nil, in.conditional)
	if err != nil {
		return nil, err
	}
	before, _, err := w.run()
	switch {
	case err != nil:
		return nil, err
	case in.ReturnValues == "ALL_OLD":
		return attributes(before), nil
	}
	return map[string]any{}, nil
}

func (s *Server) deleteItem(body []byte) (any, *apiError) {
	var in struct {
		TableName    string
		Key          item
		ReturnValues string
		conditional
		capacity
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	if in.ReturnValues != "" && in.ReturnValues != "NONE" && in.ReturnValues != "ALL_OLD" {
		return nil, validation("Return values set to invalid value")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w, err := s.prepare(in.TableName, in.Key, nil, nil, in.conditional)
	if err != nil {
		return nil, err
	}
	w.del = true
	before, _, err := w.run()
	switch {
	case err != nil:
		return nil, err
	case in.ReturnValues == "ALL_OLD":
		return attributes(before), nil
	}
	return map[string]any{}, nil
}

func (s *Server) updateItem(body []byte) (any, *apiError) {
	var in struct {
		TableName        string
		Key              item
		UpdateExpression *string
		ReturnValues     string
		conditional
		capacity
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	switch in.ReturnValues {
	case "", "NONE", "ALL_NEW", "ALL_OLD":
	case "UPDATED_NEW", "UPDATED_OLD":
		return nil, notModeled("ReturnValues " + in.ReturnValues)
	default:
		return nil, enumError("returnValues", in.ReturnValues, "ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w, err := s.prepare(in.TableName, in.Key, nil, in.UpdateExpression, in.conditional)
	if err != nil {
		return nil, err
	}
	w.isUpdate = true
	before, after, err := w.run()
	switch {
	case err != nil:
		return nil, err
	case in.ReturnValues == "ALL_NEW":
		return attributes(after), nil
	case in.ReturnValues == "ALL_OLD":
		return attributes(before), nil
	}
	return map[string]any{}, nil
}
