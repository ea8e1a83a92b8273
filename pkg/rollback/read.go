package rollback

import (
	"errors"
	"fmt"
	"sync"
)

// ReadBeside is how a strategy reads: slot (what the target serves now) and, withHistory, history (every
// deployment it could go back to) run side by side, so a decision's read costs the longer of the two
// round trips, not their sum. The slot's error is returned first: without it there is nothing to
// decide on. Each function wraps its own error with the resource and operation.
func ReadBeside[S any](withHistory bool, slot func() (S, error), history func() ([]Deployment, error)) (S, []Deployment, error) {
	var (
		wg      sync.WaitGroup
		hist    []Deployment
		histErr error
	)
	if withHistory {
		wg.Go(func() { hist, histErr = history() })
	}
	s, err := slot()
	wg.Wait()
	if err != nil {
		return s, nil, err
	}
	if histErr != nil {
		return s, nil, histErr
	}
	return s, hist, nil
}

// MarkNotFound wraps err with ErrNotFound when it is (errors.As) E, the SDK's own "does not exist"
// error for a kind, so the engine tells a missing target from a failing one without knowing any SDK.
func MarkNotFound[E error](err error) error {
	var e E
	if errors.As(err, &e) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
