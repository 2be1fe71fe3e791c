package managedpool

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/async/core/coretest"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A command's entry passes every capability of the caller's sink on
// (the pull shortcut and reply-array reuse through a managed pool); its
// Requeue is its own: it sends the command to the next address.
func TestEntryForwardsCapabilities(t *testing.T) {
	inner := &coretest.Inner{}
	p := New(Config{})
	defer p.Close()
	e := &entry{Wrapper: core.Wrapper{Inner: inner}, p: p, ctx: context.Background()}
	assert.Equal(t, map[string]bool{"SetPull": true, "Resolved": true, "Consumes": true, "Offer": true},
		coretest.Forwarded(e, inner, false))
}

// pastDeadline is a context whose deadline has passed while its Err is
// still nil: the moment between a socket deadline copied from it firing
// and its own timer ending it.
type pastDeadline struct{ context.Context }

func (pastDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// A command given back unwritten because its caller's deadline passed
// (a dial or handshake it bounded timed out) says nothing about the
// address: the address stays, no trouble is reported, and the caller
// gets the deadline. CI saw a cancelled BLPOP's dial, cut by the
// caller's 10 ms deadline a moment before the context's own timer
// fired, drop the only address.
func TestRequeueAfterTheCallersDeadlineKeepsTheAddress(t *testing.T) {
	var troubles atomic.Int32
	p := New(Config{OnTrouble: func(string, error) { troubles.Add(1) }})
	defer p.Close()
	require.NoError(t, p.SetAddrs([]string{"127.0.0.1:1"}))
	pl := p.pools[0]
	inner := &coretest.Inner{}
	e := &entry{Wrapper: core.Wrapper{Inner: inner}, p: p, ctx: pastDeadline{context.Background()}, gen: p.gen.Load(), to: pl}
	err := &pool.DialError{Addr: "127.0.0.1:1", Step: "client id", Err: context.DeadlineExceeded}
	assert.False(t, e.Requeue(core.NewCommand(), core.NotSent(err)))
	assert.Equal(t, []string{"127.0.0.1:1"}, p.Addrs())
	assert.Zero(t, troubles.Load())
}
