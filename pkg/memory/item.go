package memory

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewind-sre/rewind/pkg/rollback"
)

// schema is the layout this code writes. An item of a newer schema is refused, not half-read: a
// memory Rewind cannot read must stop it from acting rather than make it forget what is bad.
const schema = 1

// The memory item's attributes, in DynamoDB's own types so the table reads well in the console:
// lists of strings, maps, times as RFC 3339 text.
func encodeRecord(r rollback.Record) map[string]types.AttributeValue {
	item := encodeMemory(r.Memory)
	item[attrVersion] = num(r.Version)
	item["schema"] = num(schema)
	if !r.Switched.IsZero() {
		item["switchedAt"] = timeAttr(r.Switched)
	}
	if c := r.Claim; c != nil {
		item["claim"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"id": str(c.ID), "kind": str(string(c.Plan.Kind)), "from": str(c.Plan.From), "to": str(c.Plan.To),
			"rule": str(string(c.Plan.Rule)), "removeCanary": &types.AttributeValueMemberBOOL{Value: c.Plan.RemoveCanary},
			"by": str(string(c.By)), "alarm": str(c.Alarm), "at": timeAttr(c.At), "expires": timeAttr(c.Expires),
			"memory": &types.AttributeValueMemberM{Value: encodeMemory(c.Plan.Memory)},
		}}
	}
	return item
}

func encodeMemory(m rollback.Memory) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{"bad": strList(m.Bad), "incidents": strList(m.Incidents)}
	tl := make([]types.AttributeValue, len(m.Timeline))
	for i, s := range m.Timeline {
		tl[i] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"deployment": str(s.Deployment), "since": timeAttr(s.Since), "how": str(string(s.How))}}
	}
	item["timeline"] = &types.AttributeValueMemberL{Value: tl}
	guard := make([]types.AttributeValue, len(m.Guard))
	for i, g := range m.Guard {
		guard[i] = timeAttr(g)
	}
	item["guard"] = &types.AttributeValueMemberL{Value: guard}
	if c := m.Last; c != nil {
		item["last"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"kind": str(string(c.Kind)), "from": str(c.From), "to": str(c.To), "at": timeAttr(c.At),
			"by": str(string(c.By)), "incident": str(c.Incident), "alarm": str(c.Alarm)}}
	}
	if m.Planned != "" {
		item["planned"] = str(m.Planned)
	}
	recs := make([]types.AttributeValue, len(m.Recoveries))
	for i, r := range m.Recoveries {
		recs[i] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"alarm": str(r.Alarm), "at": timeAttr(r.At), "reported": &types.AttributeValueMemberBOOL{Value: r.Reported}}}
	}
	item["recoveries"] = &types.AttributeValueMemberL{Value: recs}
	if m.NotReady {
		item["notReady"] = &types.AttributeValueMemberBOOL{Value: true}
	}
	for name, t := range map[string]time.Time{"seenAt": m.SeenAt, "blindSince": m.BlindSince, "blindUntil": m.BlindUntil, "checkedAt": m.CheckedAt} {
		if !t.IsZero() {
			item[name] = timeAttr(t)
		}
	}
	return item
}

func decodeRecord(item map[string]types.AttributeValue) (rollback.Record, error) {
	d := decoder{}
	var r rollback.Record
	if v := d.num(item, "schema"); d.err == nil && v > schema {
		return r, fmt.Errorf("schema %d is newer than this Rewind's %d: upgrade Rewind", v, schema)
	}
	r.Version = d.num(item, attrVersion)
	r.Memory = d.memory(item)
	if _, ok := item["switchedAt"]; ok {
		r.Switched = d.time(item, "switchedAt")
	}
	if c, ok := d.optMap(item, "claim"); ok {
		r.Claim = &rollback.Claim{ID: d.str(c, "id"), By: rollback.By(d.str(c, "by")), Alarm: d.str(c, "alarm"),
			At: d.time(c, "at"), Expires: d.time(c, "expires"),
			Plan: rollback.Plan{Kind: rollback.ChangeKind(d.str(c, "kind")), From: d.str(c, "from"), To: d.str(c, "to"),
				Rule: rollback.Rule(d.str(c, "rule")), RemoveCanary: d.bool(c, "removeCanary"), Memory: d.memory(d.mapOf(c, "memory"))}}
	}
	if d.err == nil && r.Version < 1 {
		d.fail("version", "is %d, want 1 or more", r.Version)
	}
	return r, d.err
}

func encodeEntry(e rollback.Entry) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{"at": timeAttr(e.At), "action": str(string(e.Action)), "outcome": str(string(e.Outcome)),
		"code": str(string(e.Code)), "reason": str(e.Reason), "dryRun": &types.AttributeValueMemberBOOL{Value: e.DryRun}}
	for k, v := range map[string]string{"from": e.From, "to": e.To, "rule": string(e.Rule), "by": string(e.By), "alarm": e.Alarm, "incident": e.Incident} {
		if v != "" {
			item[k] = str(v)
		}
	}
	return item
}

func decodeEntry(item map[string]types.AttributeValue) (rollback.Entry, error) {
	d := decoder{}
	e := rollback.Entry{At: d.time(item, "at"), Action: rollback.Action(d.str(item, "action")), Outcome: rollback.Outcome(d.str(item, "outcome")),
		Code: rollback.Code(d.str(item, "code")), Reason: d.str(item, "reason"), DryRun: d.bool(item, "dryRun"),
		From: d.optStr(item, "from"), To: d.optStr(item, "to"), Rule: rollback.Rule(d.optStr(item, "rule")), By: rollback.By(d.optStr(item, "by")),
		Alarm: d.optStr(item, "alarm"), Incident: d.optStr(item, "incident")}
	return e, d.err
}

// decoder reads attributes, keeping the first problem, named by its attribute.
type decoder struct{ err error }

func (d *decoder) fail(attr, format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("attribute %s %s", attr, fmt.Sprintf(format, a...))
	}
}

func (d *decoder) get(item map[string]types.AttributeValue, attr string) (types.AttributeValue, bool) {
	v, ok := item[attr]
	if !ok {
		d.fail(attr, "is missing")
	}
	return v, ok
}

func (d *decoder) str(item map[string]types.AttributeValue, attr string) string {
	v, ok := d.get(item, attr)
	if !ok {
		return ""
	}
	s, ok := v.(*types.AttributeValueMemberS)
	if !ok {
		d.fail(attr, "is a %T, want a string", v)
		return ""
	}
	return s.Value
}

func (d *decoder) optStr(item map[string]types.AttributeValue, attr string) string {
	if _, ok := item[attr]; !ok {
		return ""
	}
	return d.str(item, attr)
}

func (d *decoder) num(item map[string]types.AttributeValue, attr string) int64 {
	v, ok := d.get(item, attr)
	if !ok {
		return 0
	}
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		d.fail(attr, "is a %T, want a number", v)
		return 0
	}
	i, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		d.fail(attr, "%q is not a whole number", n.Value)
	}
	return i
}

func (d *decoder) bool(item map[string]types.AttributeValue, attr string) bool {
	v, ok := d.get(item, attr)
	if !ok {
		return false
	}
	b, ok := v.(*types.AttributeValueMemberBOOL)
	if !ok {
		d.fail(attr, "is a %T, want a boolean", v)
		return false
	}
	return b.Value
}

func (d *decoder) time(item map[string]types.AttributeValue, attr string) time.Time {
	s := d.str(item, attr)
	if d.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.fail(attr, "%q is not an RFC 3339 time", s)
	}
	return t.UTC()
}

func (d *decoder) optTime(item map[string]types.AttributeValue, attr string) time.Time {
	if _, ok := item[attr]; !ok {
		return time.Time{}
	}
	return d.time(item, attr)
}

func (d *decoder) list(item map[string]types.AttributeValue, attr string) []types.AttributeValue {
	v, ok := d.get(item, attr)
	if !ok {
		return nil
	}
	l, ok := v.(*types.AttributeValueMemberL)
	if !ok {
		d.fail(attr, "is a %T, want a list", v)
		return nil
	}
	return l.Value
}

func (d *decoder) mapOf(item map[string]types.AttributeValue, attr string) map[string]types.AttributeValue {
	v, ok := d.get(item, attr)
	if !ok {
		return nil
	}
	m, ok := v.(*types.AttributeValueMemberM)
	if !ok {
		d.fail(attr, "is a %T, want a map", v)
		return nil
	}
	return m.Value
}

func (d *decoder) optMap(item map[string]types.AttributeValue, attr string) (map[string]types.AttributeValue, bool) {
	if _, ok := item[attr]; !ok {
		return nil, false
	}
	return d.mapOf(item, attr), d.err == nil
}

func (d *decoder) strs(item map[string]types.AttributeValue, attr string) []string {
	var out []string
	for i, v := range d.list(item, attr) {
		s, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			d.fail(fmt.Sprintf("%s[%d]", attr, i), "is a %T, want a string", v)
			return nil
		}
		out = append(out, s.Value)
	}
	return out
}

func (d *decoder) memory(item map[string]types.AttributeValue) rollback.Memory {
	if item == nil {
		return rollback.Memory{}
	}
	m := rollback.Memory{Bad: d.strs(item, "bad"), Incidents: d.strs(item, "incidents"), Planned: d.optStr(item, "planned")}
	for i, v := range d.list(item, "timeline") {
		s, ok := v.(*types.AttributeValueMemberM)
		if !ok {
			d.fail(fmt.Sprintf("timeline[%d]", i), "is a %T, want a map", v)
			break
		}
		how := rollback.How(d.str(s.Value, "how"))
		if d.err == nil && !slices.Contains(rollback.Hows, how) {
			d.fail(fmt.Sprintf("timeline[%d].how", i), "%q is not one of Rewind's", how)
		}
		m.Timeline = append(m.Timeline, rollback.Sighting{Deployment: d.str(s.Value, "deployment"), Since: d.time(s.Value, "since"), How: how})
	}
	for i, v := range d.list(item, "guard") {
		m.Guard = append(m.Guard, d.time(map[string]types.AttributeValue{fmt.Sprintf("guard[%d]", i): v}, fmt.Sprintf("guard[%d]", i)))
	}
	if _, ok := item["recoveries"]; ok {
		for i, v := range d.list(item, "recoveries") {
			r, ok := v.(*types.AttributeValueMemberM)
			if !ok {
				d.fail(fmt.Sprintf("recoveries[%d]", i), "is a %T, want a map", v)
				break
			}
			m.Recoveries = append(m.Recoveries, rollback.Recovery{Alarm: d.str(r.Value, "alarm"), At: d.time(r.Value, "at"), Reported: d.bool(r.Value, "reported")})
		}
	}
	m.SeenAt, m.BlindSince, m.BlindUntil = d.optTime(item, "seenAt"), d.optTime(item, "blindSince"), d.optTime(item, "blindUntil")
	m.CheckedAt = d.optTime(item, "checkedAt")
	if _, ok := item["notReady"]; ok {
		m.NotReady = d.bool(item, "notReady")
	}
	if c, ok := d.optMap(item, "last"); ok {
		m.Last = &rollback.Change{Kind: rollback.ChangeKind(d.str(c, "kind")), From: d.str(c, "from"), To: d.str(c, "to"), At: d.time(c, "at"),
			By: rollback.By(d.str(c, "by")), Incident: d.str(c, "incident"), Alarm: d.str(c, "alarm")}
	}
	return m
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func timeAttr(t time.Time) types.AttributeValue { return str(t.UTC().Format(time.RFC3339Nano)) }

func strList(ss []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(ss))
	for i, s := range ss {
		l[i] = str(s)
	}
	return &types.AttributeValueMemberL{Value: l}
}

func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails (crypto/rand's documented contract)
	return hex.EncodeToString(b)
}
