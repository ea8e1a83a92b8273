package responder_test

// Reading Rewind's memory as the tests judge it: straight out of the local DynamoDB (ddb.Item, which
// goes through no fault and no record of calls) and decoded by pkg/memory's own decoder, so a test
// sees exactly what the next invocation would load.

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewind-sre/rewind/pkg/memory"
	"github.com/rewind-sre/rewind/pkg/rollback"
	ddblocal "github.com/rewind-sre/rewind/pkg/support/awslocal/dynamodb"
	"github.com/rewind-sre/rewind/pkg/target"
)

// memoryPK is the partition key of a target's memory item ("target#" + the target's name).
func memoryPK(key string) string { return "target#" + key }

// oneItem is a memory.API that answers GetItem with one item already in hand: it lets the tests
// decode an item (stored, or in a request body) with pkg/memory's decoder.
type oneItem map[string]types.AttributeValue

func (o oneItem) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: o}, nil
}

func (oneItem) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, errors.New("read only")
}

func (oneItem) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return nil, errors.New("read only")
}

// decodeRecord decodes a memory item given as DynamoDB JSON ({"S": ...}, {"M": ...}).
func decodeRecord(item map[string]any) (rollback.Record, error) {
	av := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		a, err := attrOf(v)
		if err != nil {
			return rollback.Record{}, fmt.Errorf("attribute %s: %w", k, err)
		}
		av[k] = a
	}
	return memory.New(oneItem(av), memoryTable, 0).Load(context.Background(), target.Target{})
}

// attrOf turns one DynamoDB JSON value into the SDK's AttributeValue.
func attrOf(v any) (types.AttributeValue, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, fmt.Errorf("%v is not one typed DynamoDB value", v)
	}
	for typ, x := range m {
		switch typ {
		case "S", "N":
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%s value %v is not text", typ, x)
			}
			if typ == "S" {
				return &types.AttributeValueMemberS{Value: s}, nil
			}
			return &types.AttributeValueMemberN{Value: s}, nil
		case "BOOL":
			b, _ := x.(bool)
			return &types.AttributeValueMemberBOOL{Value: b}, nil
		case "NULL":
			return &types.AttributeValueMemberNULL{Value: true}, nil
		case "L":
			xs, _ := x.([]any)
			l := &types.AttributeValueMemberL{Value: make([]types.AttributeValue, 0, len(xs))}
			for _, e := range xs {
				a, err := attrOf(e)
				if err != nil {
					return nil, err
				}
				l.Value = append(l.Value, a)
			}
			return l, nil
		case "M":
			xm, _ := x.(map[string]any)
			out := &types.AttributeValueMemberM{Value: make(map[string]types.AttributeValue, len(xm))}
			for k, e := range xm {
				a, err := attrOf(e)
				if err != nil {
					return nil, err
				}
				out.Value[k] = a
			}
			return out, nil
		}
		return nil, fmt.Errorf("type %s is not one Rewind's memory uses", typ)
	}
	return nil, nil // unreachable: m has one entry
}

// storedRecord loads the memory of the target named key (apiId/stage) out of db; a target never
// written has the zero Record.
func storedRecord(db *ddblocal.Server, key string) (rollback.Record, error) {
	item, ok := db.Item(memoryTable, memoryPK(key), "memory")
	if !ok {
		return rollback.Record{}, nil
	}
	return decodeRecord(item)
}

// mustRecord is storedRecord for a test that cannot go on without it.
func mustRecord(tb testing.TB, db *ddblocal.Server, key string) rollback.Record {
	tb.Helper()
	rec, err := storedRecord(db, key)
	if err != nil {
		tb.Fatalf("Rewind's memory of %s does not decode: %v", key, err)
	}
	return rec
}

// store is pkg/memory over the rig's endpoint, for a test that seeds or reads Rewind's memory
// through the SDK as Rewind does (its calls are recorded like any other).
func (r *rig) store() *memory.Store {
	return memory.New(dynamodb.NewFromConfig(r.awsConfig(fastRetry)), memoryTable, 0)
}

// seed writes mem as the target's memory, as an earlier Rewind would have.
func (r *rig) seed(tb testing.TB, key string, mem rollback.Memory) {
	tb.Helper()
	if err := r.seedErr(key, mem); err != nil {
		tb.Fatal(err)
	}
}

func (r *rig) seedErr(key string, mem rollback.Memory) error {
	t, err := target.Parse(key)
	if err != nil {
		return err
	}
	s := r.store()
	prev, err := s.Load(context.Background(), t)
	if err != nil {
		return err
	}
	_, err = s.Save(context.Background(), t, prev, rollback.Record{Memory: mem})
	return err
}
