package rollback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewind-sre/rewind/pkg/target"
)

// LiveSince reads what t serves and when it went live as the rules date it (liveSince), without the
// deployment history (the live deployment's creation is then not read: the stage's last change and
// the timeline bound it). The schedule's re-check of alarms still in ALARM asks it before it fetches
// any metric data: only a target changed since an alarm's transition is worth a look.
func (e *Engine) LiveSince(ctx context.Context, t target.Target) (live string, since time.Time, err error) {
	var res Result
	st, _, failed := e.read(ctx, t, false, &res)
	if failed {
		return "", time.Time{}, errors.New(res.Reason)
	}
	return st.Live, liveSince(st), nil
}

// remember records a re-check's incident as handled when the decision was not to act, so the next
// tick answers "repeat" and the decision is reported once. again: the record changed under it.
// Another failure to write is logged: the decision stands, and may be reported again.
func (e *Engine) remember(ctx context.Context, t target.Target, rec Record, incident string) (again bool) {
	if incident == "" || rec.Memory.handled(incident) || rec.Claim != nil {
		return false
	}
	next := Record{Memory: rec.Memory.clone(), Switched: rec.Switched}
	next.Memory.Incidents = appendBounded(next.Memory.Incidents, incident, MaxIncidents) // clone() copied them
	if _, err := e.store.Save(ctx, t, rec, next); err != nil {
		if errors.Is(err, ErrConflict) {
			return true
		}
		e.log.WarnContext(ctx, "could not remember a re-check's decision; it may be reported again", "target", t.String(),
			"incident", incident, "error", fmt.Sprint(err))
	}
	return false
}

// Now is the engine's decision clock.
func (e *Engine) Now() time.Time { return e.now() }
