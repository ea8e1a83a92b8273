package event

import "testing"

func BenchmarkDecodeSNSAlarm(b *testing.B) {
	payload := readFixture(b, "sns-apigw-5xx-alarm.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		_, recs, err := Decode(payload)
		if err != nil || len(recs) != 1 || recs[0].Alarm == nil {
			b.Fatalf("%v %+v", err, recs)
		}
	}
}
