// Package memory is Rewind's memory in its own DynamoDB table (rollback.Store): one item per target
// holding what Rewind knows of it and any change under way, and an audit log beside it. Nothing a
// release tool does to a target (SAM, CDK and Terraform rewrite a stage's variables and delete old
// deployments) can reach it.
//
// The table has a String partition key pk and a String sort key sk (template.yaml creates it):
//
//	pk = "target#" + target       sk = "memory"                      the target's memory (one item)
//	pk = "target#" + target       sk = "audit#" + time + "#" + id    one audit entry, expiring at expiresAt
//
// Every write of the memory item is a PutItem conditional on the version read (attribute_not_exists
// for the first), so two instances never both act on what they read: DynamoDB's conditional writes
// are its compare-and-set (DynamoDB Developer Guide, "Condition expressions"). Reads are strongly
// consistent, so a reader sees every write that was acknowledged before it.
package memory

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

// API is the part of the DynamoDB client the store uses: the template grants exactly these.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// DefaultRetention is how long an audit entry is kept: 400 days, so last year's same incident is
// still there to compare with.
const DefaultRetention = 400 * 24 * time.Hour

// Store is rollback.Store over one DynamoDB table.
type Store struct {
	api       API
	table     string
	retention time.Duration
}

var _ rollback.Store = (*Store)(nil)

// New returns the store over the table named table; audit entries expire after retention (0:
// DefaultRetention).
func New(api API, table string, retention time.Duration) *Store {
	if retention <= 0 {
		retention = DefaultRetention
	}
	return &Store{api: api, table: table, retention: retention}
}

// Attribute names.
const (
	attrPK      = "pk"
	attrSK      = "sk"
	attrVersion = "version"
	attrWriter  = "writer" // the token of the write that put the item there
	skMemory    = "memory"
	auditPrefix = "audit#"
)

func pk(t target.Target) string { return "target#" + t.String() }

func key(t target.Target, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(pk(t)), attrSK: str(sk)}
}

// Load implements rollback.Store with a strongly consistent GetItem.
func (s *Store) Load(ctx context.Context, t target.Target) (rollback.Record, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(t, skMemory), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return rollback.Record{}, fmt.Errorf("table %s: get the memory of %s: %w", s.table, t, err)
	}
	if len(out.Item) == 0 {
		return rollback.Record{}, nil
	}
	rec, err := decodeRecord(out.Item)
	if err != nil {
		return rollback.Record{}, fmt.Errorf("table %s: the memory of %s cannot be read: %w", s.table, t, err)
	}
	return rec, nil
}

// Save implements rollback.Store with a PutItem conditional on prev's version. Each write carries a
// token of its own: when the condition fails because this very write landed and its answer was lost
// (the SDK retried it), the token in the table says so, and the write counts as done.
func (s *Store) Save(ctx context.Context, t target.Target, prev, next rollback.Record) (rollback.Record, error) {
	next.Version = prev.Version + 1
	token := randomID()
	item := encodeRecord(next)
	item[attrPK], item[attrSK] = str(pk(t)), str(skMemory)
	item["target"], item[attrWriter] = str(t.String()), str(token)
	in := &dynamodb.PutItemInput{TableName: &s.table, Item: item}
	if prev.Version == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		in.ExpressionAttributeNames = map[string]string{"#pk": attrPK}
	} else {
		in.ConditionExpression = aws.String("#v = :v")
		in.ExpressionAttributeNames = map[string]string{"#v": attrVersion}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(prev.Version)}
	}
	if _, err := s.api.PutItem(ctx, in); err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			if s.landed(ctx, t, token) {
				return next, nil
			}
			return rollback.Record{}, fmt.Errorf("table %s: save the memory of %s over version %d: %w", s.table, t, prev.Version, rollback.ErrConflict)
		}
		return rollback.Record{}, fmt.Errorf("table %s: save the memory of %s: %w", s.table, t, err)
	}
	return next, nil
}

// landed reports whether the memory item was last written with token: a write whose answer was lost.
func (s *Store) landed(ctx context.Context, t target.Target, token string) bool {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(t, skMemory), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false // unknown: a conflict, so the caller reads again and decides again
	}
	w, ok := out.Item[attrWriter].(*types.AttributeValueMemberS)
	return ok && w.Value == token
}

// Audit implements rollback.Store: one item per entry, under a sort key that orders by time and
// never collides, expiring (DynamoDB's TTL on expiresAt) after the retention.
func (s *Store) Audit(ctx context.Context, t target.Target, e rollback.Entry) error {
	item := encodeEntry(e)
	item[attrPK] = str(pk(t))
	item[attrSK] = str(auditPrefix + e.At.UTC().Format(sortableTime) + "#" + randomID())
	item["expiresAt"] = num(e.At.Add(s.retention).Unix())
	_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item,
		ConditionExpression: aws.String("attribute_not_exists(#sk)"), ExpressionAttributeNames: map[string]string{"#sk": attrSK}})
	if err != nil {
		return fmt.Errorf("table %s: keep an audit entry of %s: %w", s.table, t, err)
	}
	return nil
}

// sortableTime is RFC 3339 at a fixed width, so the text order of sort keys is their time order.
const sortableTime = "2006-01-02T15:04:05.000000000Z"

// Recent implements rollback.Store with one Query, newest first. Entries past their expiry that
// DynamoDB has not deleted yet (its TTL deletes within days, not at once) are left out.
func (s *Store) Recent(ctx context.Context, t target.Target, n int) ([]rollback.Entry, error) {
	out, err := s.api.Query(ctx, &dynamodb.QueryInput{TableName: &s.table,
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :audit)"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk(t)), ":audit": str(auditPrefix)},
		ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(int32(n)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("table %s: read the audit log of %s: %w", s.table, t, err)
	}
	now := time.Now().Unix()
	entries := make([]rollback.Entry, 0, len(out.Items))
	for _, item := range out.Items {
		if exp, ok := item["expiresAt"].(*types.AttributeValueMemberN); ok {
			if sec, err := strconv.ParseInt(exp.Value, 10, 64); err == nil && sec < now {
				continue
			}
		}
		e, err := decodeEntry(item)
		if err != nil {
			return nil, fmt.Errorf("table %s: an audit entry of %s cannot be read: %w", s.table, t, err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}
