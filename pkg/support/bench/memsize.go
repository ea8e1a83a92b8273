package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/rewind-sre/rewind/pkg/memory"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

// MaxItemBytes is DynamoDB's limit on one item: 400 KB, attribute names and values together.
const MaxItemBytes = 400 * 1024

// ItemSize is an item's size as DynamoDB counts it toward MaxItemBytes (DynamoDB Developer Guide,
// "Item sizes and formats"): per attribute its name's UTF-8 bytes plus its value's size. A string
// is its UTF-8 bytes, a binary its bytes, a number 1 byte per two significant digits plus 1, a
// boolean or null 1; a list or map 3 bytes plus, per element, 1 byte and the element's size (and a
// map element's name); a set the sum of its members. item is DynamoDB JSON decoded generically
// ({"S": "x"}, {"N": "42"}, {"M": {...}}), as the local DynamoDB's Item returns it.
func ItemSize(item map[string]any) (int, error) {
	n := 0
	for name, v := range item {
		s, err := valueSize(v)
		if err != nil {
			return 0, fmt.Errorf("attribute %s: %w", name, err)
		}
		n += len(name) + s
	}
	return n, nil
}

func valueSize(v any) (int, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return 0, fmt.Errorf("%v is not one DynamoDB JSON value", v)
	}
	for kind, x := range m {
		switch kind {
		case "S":
			s, _ := x.(string)
			return len(s), nil
		case "N":
			s, _ := x.(string)
			return numberSize(s), nil
		case "B":
			s, _ := x.(string)
			b, err := base64.StdEncoding.DecodeString(s)
			return len(b), err
		case "BOOL", "NULL":
			return 1, nil
		case "L":
			l, _ := x.([]any)
			n := 3
			for _, e := range l {
				s, err := valueSize(e)
				if err != nil {
					return 0, err
				}
				n += 1 + s
			}
			return n, nil
		case "M":
			mm, _ := x.(map[string]any)
			n := 3
			for k, e := range mm {
				s, err := valueSize(e)
				if err != nil {
					return 0, err
				}
				n += 1 + len(k) + s
			}
			return n, nil
		case "SS", "NS", "BS":
			l, _ := x.([]any)
			n := 0
			for _, e := range l {
				s, err := valueSize(map[string]any{kind[:1]: e})
				if err != nil {
					return 0, err
				}
				n += s
			}
			return n, nil
		}
		return 0, fmt.Errorf("unknown DynamoDB type %q", kind)
	}
	return 0, nil
}

// numberSize: leading and trailing zeros are trimmed, then 1 byte per two significant digits, plus 1.
func numberSize(s string) int {
	mant, _, _ := strings.Cut(strings.ToLower(s), "e")
	mant = strings.TrimLeft(mant, "+-")
	digits := strings.Trim(strings.ReplaceAll(mant, ".", ""), "0")
	return (len(digits)+1)/2 + 1
}

// boundAlarmName is CloudWatch's limit on an alarm name's length.
const boundAlarmName = 255

// BoundedRecord is one target's record with every bounded list full: rollback.MaxBad known-bad
// deployments, MaxIncidents incidents, MaxTimeline sightings, MaxGuard loop-guard times, the last
// change (by an alarm with a 255-character name) and a reported plan. Values are as long as a REST
// stage's are: deployment ids of 6 characters (API Gateway's), incident keys of 16 hex digits
// (event.Alarm.IncidentKey), times with nanoseconds where the decision clock gives them. withClaim adds the claim an
// alarm's rollback writes before it switches, which carries the memory to record afterwards: the
// largest the item gets.
func BoundedRecord(withClaim bool) rollback.Record {
	at := AlarmTime(0)
	dep := func(i int) string { return fmt.Sprintf("d%05d", i) } // 6 characters, as API Gateway's
	alarm := strings.Repeat("a", boundAlarmName)
	var m rollback.Memory
	for i := range rollback.MaxBad {
		m.Bad = append(m.Bad, dep(i))
	}
	for i := range rollback.MaxIncidents {
		m.Incidents = append(m.Incidents, fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15))
	}
	for i := range rollback.MaxTimeline {
		m.Timeline = append(m.Timeline, rollback.Sighting{Deployment: dep(1000 + i), Since: at.Add(time.Duration(i) * time.Minute), How: rollback.HowManualRollback})
	}
	for i := range rollback.MaxGuard {
		// Nanoseconds, as an alarm's decision clock gives them: the longest RFC 3339 text.
		m.Guard = append(m.Guard, at.Add(time.Duration(i)*time.Minute+123456789))
	}
	m.Last = &rollback.Change{Kind: rollback.KindCanaryRollback, From: dep(1), To: dep(2), At: at.Add(123456789), By: rollback.ByAlarm,
		Incident: m.Incidents[len(m.Incidents)-1], Alarm: alarm}
	m.Planned = fmt.Sprintf("%s:%s>%s:%s", rollback.KindCanaryRollback, dep(1), dep(2), rollback.RuleTimeline)
	rec := rollback.Record{Memory: m}
	if withClaim {
		rec.Claim = &rollback.Claim{ID: "0123456789abcdef", By: rollback.ByAlarm, Alarm: alarm, At: at.Add(123456789), Expires: at.Add(time.Minute + 123456789),
			Plan: rollback.Plan{Kind: rollback.KindCanaryRollback, From: dep(1), To: dep(2), Rule: rollback.RuleTimeline, RemoveCanary: true, Memory: m}}
	}
	return rec
}

// MemoryItemSize saves rec as t's memory with pkg/memory over the World's DynamoDB (t must not have
// been written) and returns the stored item's size, as DynamoDB counts it.
func (w *World) MemoryItemSize(ctx context.Context, t target.Target, rec rollback.Record) (int, error) {
	store := memory.New(w.DynamoDB(), MemoryTable, 0)
	if _, err := store.Save(ctx, t, rollback.Record{}, rec); err != nil {
		return 0, err
	}
	item, ok := w.MemoryItem(t)
	if !ok {
		return 0, fmt.Errorf("%s: no memory item after Save", t)
	}
	return ItemSize(item)
}
