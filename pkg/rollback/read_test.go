package rollback

import (
	"errors"
	"fmt"
	"testing"
)

func TestReadBesideRunsTheHistoryAlongsideTheSlot(t *testing.T) {
	historyStarted := make(chan struct{})
	// The slot read waits for the history read to have started: run one after the other, this never returns.
	live, hist, err := ReadBeside(true,
		func() (string, error) { <-historyStarted; return "d2", nil },
		func() ([]Deployment, error) { close(historyStarted); return []Deployment{{ID: "d1"}, {ID: "d2"}}, nil })
	if err != nil || live != "d2" || len(hist) != 2 {
		t.Fatalf("got %q %v %v", live, hist, err)
	}
}

func TestReadBesideWithoutHistoryReadsOnlyTheSlot(t *testing.T) {
	live, hist, err := ReadBeside(false, func() (string, error) { return "d2", nil },
		func() ([]Deployment, error) { t.Fatal("history read although not wanted"); return nil, nil })
	if err != nil || live != "d2" || hist != nil {
		t.Fatalf("got %q %v %v", live, hist, err)
	}
}

func TestReadBesideReportsTheSlotsErrorFirst(t *testing.T) {
	slotErr, histErr := errors.New("get stage: 429"), errors.New("get deployments: 500")
	_, _, err := ReadBeside(true, func() (string, error) { return "", slotErr }, func() ([]Deployment, error) { return nil, histErr })
	if !errors.Is(err, slotErr) {
		t.Fatalf("err = %v, want the slot's", err)
	}
	_, hist, err := ReadBeside(true, func() (string, error) { return "d2", nil }, func() ([]Deployment, error) { return nil, histErr })
	if !errors.Is(err, histErr) || hist != nil {
		t.Fatalf("err = %v hist %v, want the history's error and no history", err, hist)
	}
}

type missing struct{}

func (missing) Error() string { return "NotFoundException: no such stage" }

func TestMarkNotFoundMarksOnlyTheKindsOwnError(t *testing.T) {
	wrapped := fmt.Errorf("get stage: %w", missing{})
	if err := MarkNotFound[missing](wrapped); !errors.Is(err, ErrNotFound) || !errors.As(err, new(missing)) {
		t.Fatalf("MarkNotFound(%v) = %v: want ErrNotFound and the cause kept", wrapped, err)
	}
	if err := MarkNotFound[missing](errors.New("429 TooManyRequests")); errors.Is(err, ErrNotFound) {
		t.Fatalf("a throttle was marked not found: %v", err)
	}
}
