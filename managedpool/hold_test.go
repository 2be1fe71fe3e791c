package managedpool_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/managedpool"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol/resptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newStallingServer accepts one connection, answers the handshake's
// HELLO with an error (RESP2 then, nothing more asked), and reads nothing
// more until start is closed; then it reads everything until the
// connection closes, counting the bytes in n, and calls done.Done.
func newStallingServer(t *testing.T, start <-chan struct{}, n *int, done *sync.WaitGroup) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer done.Done()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		buf := make([]byte, 64<<10)
		if _, err := nc.Read(buf); err != nil { // HELLO 3
			return
		}
		if _, err := nc.Write([]byte("-ERR unknown command 'HELLO'\r\n")); err != nil {
			return
		}
		<-start
		for {
			m, err := nc.Read(buf)
			*n += m
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// Hold is a fence: once it returns, the old master gets nothing more
// than what was already being written. The commands its connection had
// queued and not written come back, wait, and go to the next address in
// the order they were issued. A master that stopped reading lets the
// client queue far more than its socket takes; when it reads again after
// the fence, it finds at most what was in the socket and one write.
func TestHoldTakesBackWhatWasNotWritten(t *testing.T) {
	checkLeaks(t)
	start := make(chan struct{})
	var received sync.WaitGroup
	var oldBytes int
	received.Add(1)
	oldAddr := newStallingServer(t, start, &oldBytes, &received)

	var mu sync.Mutex // guards order
	var order []int
	next := resptest.NewServer(t, resptest.Handler(func(args []string) string {
		if strings.EqualFold(args[0], "SET") {
			n, _ := strconv.Atoi(args[1][len("k:"):])
			mu.Lock()
			order = append(order, n)
			mu.Unlock()
			return "+OK\r\n"
		}
		return ""
	}))

	p := managedpool.New(managedpool.Config{Pool: pool.Config{MaxQueueBytes: 64 << 20, HealthCheckInterval: -1,
		ReadTimeout: time.Minute, WriteTimeout: time.Minute}})
	t.Cleanup(func() { p.Close() })
	require.NoError(t, p.SetAddrs([]string{oldAddr}))
	c := async.NewClient(p)
	ctx := context.Background()
	payload := strings.Repeat("x", 16<<10)
	const n = 2000
	futs := make([]*async.Future[string], n)
	for i := range n {
		futs[i] = c.Set(ctx, fmt.Sprint("k:", i), payload)
	}
	size := len(fmt.Sprintf("*3\r\n$3\r\nSET\r\n$6\r\nk:1000\r\n$%d\r\n%s\r\n", len(payload), payload))
	p.Hold()
	back := p.Stats().Waiting
	assert.Greater(t, back, n/2, "what the held pool had not written waits in the managed pool")
	close(start) // the old master reads again: what reaches it now was written before the fence
	require.NoError(t, p.SetAddrs([]string{next.Addr}))
	inFlight := 0
	for i, f := range futs {
		err := f.Err()
		if errors.Is(err, pool.ErrInFlight) {
			inFlight++
			continue
		}
		require.NoError(t, err, "command %d", i)
	}
	received.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d commands written before the fence (about %d reached the old master), %d taken back by Hold, %d sent to the next address",
		inFlight, oldBytes/size, back, len(order))
	assert.Equal(t, n, inFlight+len(order), "every command either in flight at the fence or sent on")
	assert.Less(t, inFlight, n/2, "the old master got only what was written before the fence")
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			t.Fatalf("sent out of order: %d after %d", order[i], order[i-1])
		}
	}
}

// A server left behind a fence still answers: what was written to it
// before Hold gets its reply, not an in-flight error, even when the
// replies come after the pool has moved to the next address.
func TestHeldServerLeftAnswersWhatWasWritten(t *testing.T) {
	checkLeaks(t)
	gate := make(chan struct{})
	var oldGot sync.WaitGroup
	oldGot.Add(1)
	var once sync.Once
	old := resptest.NewServer(t, resptest.Handler(func(args []string) string {
		if strings.EqualFold(args[0], "SET") {
			once.Do(oldGot.Done)
			<-gate // replies stay out until the pool has left this server
			return "+old\r\n"
		}
		return ""
	}))
	next := resptest.NewServer(t, resptest.Handler(func(args []string) string {
		if strings.EqualFold(args[0], "SET") {
			return "+next\r\n"
		}
		return ""
	}))
	p := managedpool.New(managedpool.Config{Pool: pool.Config{HealthCheckInterval: -1}})
	t.Cleanup(func() { p.Close() })
	require.NoError(t, p.SetAddrs([]string{old.Addr}))
	c := async.NewClient(p)
	ctx := context.Background()
	const n = 200
	futs := make([]*async.Future[string], n)
	for i := range n {
		futs[i] = c.Set(ctx, fmt.Sprint("k:", i), "v")
	}
	oldGot.Wait() // at least the first SET was written to the old server
	p.Hold()
	require.NoError(t, p.SetAddrs([]string{next.Addr}))
	close(gate)
	byOld, byNext := 0, 0
	for i, f := range futs {
		v, err := f.Result()
		require.NoError(t, err, "command %d", i)
		switch v {
		case "old":
			require.Zero(t, byNext, "command %d answered by the old server after one answered by the next", i)
			byOld++
		case "next":
			byNext++
		}
	}
	t.Logf("%d answered by the server left behind the fence, %d by the next", byOld, byNext)
	assert.Positive(t, byOld)
	assert.Equal(t, n, byOld+byNext)
}
