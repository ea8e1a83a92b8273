package dynamodb

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"
)

// transactMember is one action of a transaction; which of the four it is decides which members it
// may have.
type transactMember struct {
	TableName        string
	Key              item
	Item             item
	UpdateExpression *string
	conditional
}

type transactItem struct {
	ConditionCheck, Put, Delete, Update *transactMember
}

// DynamoDB's limit on a transaction's actions, and how long it remembers a ClientRequestToken.
const (
	maxTransactItems = 100
	idempotencyTTL   = 10 * time.Minute
)

// done is a transaction already carried out under a ClientRequestToken: the SDK sends one on every
// TransactWriteItems and the same one on a retry, which AWS answers with success without applying
// the writes again, so a retry after a lost answer must not fail here on its own first write.
type done struct {
	request [32]byte
	at      time.Time
}

// replayed is the answer to a retried transaction: success, nothing applied.
type replayed struct{}

func (replayed) MarshalJSON() ([]byte, error) { return []byte("{}"), nil }

func (s *Server) transactWriteItems(body []byte) (any, *apiError) {
	var in struct {
		TransactItems      []transactItem
		ClientRequestToken string
		capacity
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	if n := len(in.TransactItems); n < 1 || n > maxTransactItems {
		return nil, validationf("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length between 1 and %d (it has %d)", maxTransactItems, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if replay, err := s.seen(in.ClientRequestToken, in.TransactItems); replay || err != nil {
		return replayed{}, err
	}
	writes, err := s.prepareTransaction(in.TransactItems)
	if err != nil {
		return nil, err
	}
	afters, err := outcomes(writes)
	if err != nil {
		return nil, err
	}
	for i, w := range writes {
		w.t.set(w.k, afters[i])
	}
	s.remember(in.ClientRequestToken, in.TransactItems)
	return map[string]any{}, nil
}

// outcomes is what each write would store, or the cancellation naming every write that cannot run.
func outcomes(writes []*write) ([]item, *apiError) {
	afters := make([]item, len(writes))
	reasons := make([]reason, len(writes))
	failed := false
	for i, w := range writes {
		_, after, err := w.outcome()
		afters[i], reasons[i] = after, reason{Code: "None"}
		switch {
		case err == nil:
			continue
		case err.code == "ConditionalCheckFailedException":
			reasons[i] = reason{Code: "ConditionalCheckFailed", Message: err.msg, Item: err.item}
		default:
			reasons[i] = reason{Code: "ValidationError", Message: err.msg}
		}
		failed = true
	}
	if failed {
		return nil, canceled(reasons)
	}
	return afters, nil
}

// prepareTransaction checks every action before any runs: one action per item, each complete.
func (s *Server) prepareTransaction(items []transactItem) ([]*write, *apiError) {
	var writes []*write
	targets := map[string]bool{}
	for i, ti := range items {
		kind, m, err := ti.member(i)
		if err != nil {
			return nil, err
		}
		var put item
		if kind == "Put" {
			put = m.Item
			if put == nil {
				put = item{}
			}
		}
		w, err := s.prepare(m.TableName, m.Key, put, m.UpdateExpression, m.conditional)
		if err != nil {
			return nil, err
		}
		w.del, w.isUpdate = kind == "Delete", kind == "Update"
		target := fmt.Sprintf("%q %q %q", w.t.name, w.k.pk, w.k.sk)
		if targets[target] {
			return nil, validation("Transaction request cannot include multiple operations on one item")
		}
		targets[target] = true
		writes = append(writes, w)
	}
	return writes, nil
}

// member is the one action an item holds, checked for the members its kind requires and allows.
func (ti transactItem) member(i int) (string, *transactMember, *apiError) {
	var kind string
	var m *transactMember
	n := 0
	for k, v := range map[string]*transactMember{"ConditionCheck": ti.ConditionCheck, "Put": ti.Put, "Delete": ti.Delete, "Update": ti.Update} {
		if v != nil {
			kind, m, n = k, v, n+1
		}
	}
	if n != 1 {
		return "", nil, validationf("TransactItems can only contain one of Check, Put, Update or Delete (item %d has %d)", i+1, n)
	}
	missing := func(member string) *apiError {
		return validationf("1 validation error detected: Value null at 'transactItems.%d.member.%s.%s' failed to satisfy constraint: Member must not be null", i+1, lowerFirst(kind), member)
	}
	switch {
	case kind == "ConditionCheck" && m.ConditionExpression == nil:
		return "", nil, missing("conditionExpression")
	case kind == "Update" && m.UpdateExpression == nil:
		return "", nil, missing("updateExpression")
	case kind == "Put" && m.Item == nil:
		return "", nil, missing("item")
	case kind != "Put" && m.Key == nil:
		return "", nil, missing("key")
	case kind == "Put" && m.Key != nil, kind != "Put" && m.Item != nil, kind != "Update" && m.UpdateExpression != nil:
		return "", nil, validationf("transactItems.%d: a %s has no such member (Key, Item, UpdateExpression)", i+1, kind)
	}
	return kind, m, nil
}

func lowerFirst(s string) string { return string(s[0]+'a'-'A') + s[1:] }

func requestHash(items []transactItem) [32]byte {
	b, _ := json.Marshal(items)
	return sha256.Sum256(b)
}

// seen reports a retry of a transaction carried out under the same token; the same token with
// another request is DynamoDB's IdempotentParameterMismatchException.
func (s *Server) seen(tok string, items []transactItem) (bool, *apiError) {
	if tok == "" {
		return false, nil
	}
	now := s.now()
	for k, t := range s.tokens {
		if now.Sub(t.at) > idempotencyTTL {
			delete(s.tokens, k)
		}
	}
	t, ok := s.tokens[tok]
	if !ok {
		return false, nil
	}
	if t.request != requestHash(items) {
		return false, &apiError{status: 400, code: "IdempotentParameterMismatchException",
			msg: "The request uses the same client token as a previous, but non-identical request."}
	}
	return true, nil
}

func (s *Server) remember(tok string, items []transactItem) {
	if tok != "" {
		s.tokens[tok] = done{request: requestHash(items), at: s.now()}
	}
}
