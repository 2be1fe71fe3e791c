package async

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// movingSource refuses every subscriber connection (its target is down)
// and lets the test move its target.
type movingSource struct {
	*manualExec
	mu      sync.Mutex
	calls   []time.Time
	changed chan struct{}
}

func (s *movingSource) Subscriber(context.Context, func(protocol.Value)) (core.SubConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, time.Now())
	return nil, errors.New("connection refused")
}

func (s *movingSource) TargetChanged() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *movingSource) move() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *movingSource) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// A subscriber whose connection attempts fail backs off, but tries again
// at once when its source's target moves (a failover's new master), and a
// target that stays moved does not make it spin.
func TestPubSubRetriesAtOnceWhenTheTargetMoves(t *testing.T) {
	src := &movingSource{manualExec: newManualExec(), changed: make(chan struct{})}
	ps, err := NewClient(src).PubSub(PubSubConfig{})
	require.NoError(t, err)
	defer ps.Close()
	// Let the backoff grow past a second's worth of attempts.
	require.Eventually(t, func() bool { return src.count() >= 6 }, 10*time.Second, time.Millisecond)
	n := src.count()
	moved := time.Now()
	src.move()
	require.Eventually(t, func() bool { return src.count() > n }, time.Second, 100*time.Microsecond)
	src.mu.Lock()
	took := src.calls[n].Sub(moved)
	src.mu.Unlock()
	assert.Less(t, took, 250*time.Millisecond, "the attempt after the move, not after the backoff (0.5–1 s by now)")

	// A closed channel that stays closed is acted on once.
	src.mu.Lock()
	close(src.changed)
	src.mu.Unlock()
	start, before := time.Now(), src.count()
	require.Eventually(t, func() bool { return src.count() >= before+3 }, 10*time.Second, time.Millisecond)
	assert.Greater(t, time.Since(start), 20*time.Millisecond, "three attempts take the backoff's time, not a spin")
}
