package core_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/stretchr/testify/assert"
)

// Go racing Close from many goroutines: whatever Go accepted has finished
// when Close returns, and nothing is accepted after Close began. Under
// -race an Add concurrent with Wait would be reported here.
func TestLifecycleGoRacingClose(t *testing.T) {
	for range 200 {
		var l core.Lifecycle
		var running, late atomic.Int64
		var closed atomic.Bool
		var callers sync.WaitGroup
		for range 4 {
			callers.Add(1)
			go func() {
				defer callers.Done()
				for l.Go(func() {
					running.Add(1)
					if closed.Load() {
						late.Add(1) // started after Close returned
					}
					running.Add(-1)
				}) {
				}
			}()
		}
		l.Close()
		closed.Store(true)
		assert.Zero(t, running.Load(), "a goroutine outlived Close")
		callers.Wait()
		assert.Zero(t, late.Load(), "a goroutine started after Close")
		assert.True(t, l.Closed())
		assert.False(t, l.Close(), "the second Close is not the first")
	}
}

func TestBackoffGrowsWithJitterAndResets(t *testing.T) {
	b := core.Backoff{Min: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	for _, cap := range []time.Duration{10, 20, 40, 80, 80} {
		d := b.Next()
		cap *= time.Millisecond
		assert.GreaterOrEqual(t, d, cap/2)
		assert.LessOrEqual(t, d, cap)
	}
	b.Reset()
	assert.LessOrEqual(t, b.Next(), 10*time.Millisecond)
	var zero core.Backoff
	assert.Zero(t, zero.Next())
}
