package pool

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/protocol/resptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A full connection admits the callers waiting for room one at a time, in
// the order they came, each when a reply frees a slot: a freed slot wakes
// one waiter, not every one (with thousands waiting, waking all of them
// for each slot cost thousands of wake-ups per command). A caller that
// gives up leaves the line and its command is never sent. The first
// command's reply is read although its caller has not asked for it yet.
func TestConnFullAdmitsWaitersInArrivalOrder(t *testing.T) {
	checkLeaks(t)
	gate := make(chan struct{})
	var mu sync.Mutex
	var order []string
	srv := resptest.NewServer(t, resptest.Handler(func(args []string) string {
		if strings.EqualFold(args[0], "GET") {
			mu.Lock()
			order = append(order, args[1])
			mu.Unlock()
			<-gate // one reply per token
		}
		return echoServer(args)
	}))
	cfg := quiet(srv.Addr)
	cfg.MaxPending = 1
	c := dialT(t, cfg)
	cl := async.NewClient(c)
	ctx := context.Background()
	inLine := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.room.Len()
	}

	first := cl.Get(ctx, "k0") // takes the only slot; its reply waits for the gate
	const waiters, quitter = 12, 5
	futures := make([]*async.Future[string], waiters+1)
	var wg sync.WaitGroup
	quitCtx, quit := context.WithCancel(ctx)
	defer quit()
	for i := 1; i <= waiters; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx := ctx
			if i == quitter {
				cctx = quitCtx
			}
			futures[i] = cl.Get(cctx, "k"+itoa(i)) // blocks until admitted
		}()
		require.Eventually(t, func() bool { return inLine() == i }, 5*time.Second, time.Millisecond, "waiter %d in line", i)
	}
	quit()
	require.Eventually(t, func() bool { return inLine() == waiters-1 }, 5*time.Second, time.Millisecond, "the quitter left the line")

	for range waiters { // k0, then every waiter but the quitter
		gate <- struct{}{}
	}
	wg.Wait()
	v, err := first.Result()
	require.NoError(t, err)
	assert.Equal(t, "k0", v)
	want := []string{"k0"}
	for i := 1; i <= waiters; i++ {
		v, err := futures[i].Result()
		if i == quitter {
			assert.ErrorIs(t, err, context.Canceled) // and never sent: see order
			continue
		}
		require.NoError(t, err, "waiter %d", i)
		assert.Equal(t, "k"+itoa(i), v)
		want = append(want, "k"+itoa(i))
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, want, order, "commands sent in the order their callers began to wait")
}
