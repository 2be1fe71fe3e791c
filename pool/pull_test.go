package pool

import (
	"bytes"
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/asyncredis/asyncredis/protocol/resptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pullSink is a core.PullSink that notes which goroutine completed it.
type pullSink struct {
	mark *core.PullMark
	done chan struct{}
	v    protocol.Value
	err  error
	by   string
}

func newPullSink() *pullSink { return &pullSink{done: make(chan struct{})} }

func (s *pullSink) SetPull(m *core.PullMark) bool { s.mark = m; return true }

func (s *pullSink) Resolved() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *pullSink) Complete(v protocol.Value, err error) {
	s.v, s.err, s.by = v, err, goroutineID()
	close(s.done)
}

// goroutineID is the calling goroutine's number, from its stack header.
func goroutineID() string {
	b := make([]byte, 64)
	return string(bytes.Fields(b[:runtime.Stack(b, false)])[1])
}

func getCmd(key string) *core.Command {
	cmd := core.NewCommand()
	cmd.Buf, _ = protocol.AppendCommand(cmd.Buf, "GET", key)
	return cmd
}

// quiet keeps the watchdog from handing replies over during a test: it
// then looks once a second.
func quiet(addr string) Config {
	return Config{Addr: addr, HealthCheckInterval: time.Hour, ReadTimeout: time.Hour, WriteTimeout: time.Hour}
}

// A command written on an idle connection leaves its reply to its caller,
// who reads it on its own goroutine: the reader goroutine neither reads it
// nor has to wake the caller.
func TestConnCallerReadsItsOwnReply(t *testing.T) {
	checkLeaks(t)
	srv := resptest.NewServer(t, resptest.Handler(echoServer))
	c := dialT(t, quiet(srv.Addr))
	for _, key := range []string{"a", "b", "c"} {
		s := newPullSink()
		c.Exec(context.Background(), getCmd(key), s)
		require.NotNil(t, s.mark, "an idle connection leaves the reply to the caller")
		s.mark.Puller.Pull(time.Time{})
		require.True(t, s.Resolved(), "Pull returns once the reply is read")
		assert.Equal(t, goroutineID(), s.by, "on the caller's goroutine")
		require.NoError(t, s.err)
		assert.Equal(t, key, s.v.Str)
	}
}

// A reply left to its caller still arrives when the caller waits another
// way: on Done, through a later command, or by a Handover.
func TestConnPulledReplyReachesOtherWaiters(t *testing.T) {
	checkLeaks(t)
	srv := resptest.NewServer(t, resptest.Handler(echoServer))
	c := dialT(t, quiet(srv.Addr))
	ctx := context.Background()

	s := newPullSink()
	c.Exec(ctx, getCmd("handed"), s)
	require.NotNil(t, s.mark)
	c.Handover()
	select {
	case <-s.done:
	case <-time.After(500 * time.Millisecond): // the watchdog would take a second
		t.Fatal("the reader loop did not take the reply over")
	}
	assert.Equal(t, "handed", s.v.Str)

	first, second := newPullSink(), newPullSink()
	c.Exec(ctx, getCmd("first"), first)
	require.NotNil(t, first.mark)
	c.Exec(ctx, getCmd("second"), second)
	assert.Nil(t, second.mark, "a busy connection's reader reads the replies")
	<-first.done
	<-second.done
	assert.Equal(t, "first", first.v.Str)
	assert.Equal(t, "second", second.v.Str)

	polled := async.NewClient(c).Get(ctx, "polled")
	assert.Eventually(t, polled.IsResolved, 500*time.Millisecond, time.Millisecond, "a poller sees the reply arrive")
	assert.Equal(t, "polled", polled.Val())

	f := async.NewClient(c).Get(ctx, "selected")
	select {
	case <-f.Done():
	case <-time.After(500 * time.Millisecond):
		t.Fatal("Done was not closed: nobody read the reply")
	}
	assert.Equal(t, "selected", f.Val())
}

// A caller reading its own reply cannot watch its context: while the
// context can end, it reads for at most core.PullSlice, then hands the
// reply over and waits on the context as well. Deadlines are kept
// exactly, cancellations within PullSlice, and the reply that comes late
// goes to nobody else.
func TestConnPullKeepsContexts(t *testing.T) {
	checkLeaks(t)
	release := make(chan struct{}, 3)
	srv := resptest.NewServer(t, func(c *resptest.Conn) {
		c.Serve(func(args []string) string {
			if args[0] == "GET" && args[1] == "slow" {
				<-release
			}
			return echoServer(args)
		})
	})
	defer close(release)
	c := dialT(t, quiet(srv.Addr))
	cl := async.NewClient(c)
	const slack = 150 * time.Millisecond // generous for the race detector

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := cl.Get(ctx, "slow").Result()
	took := time.Since(start)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.GreaterOrEqual(t, took, 50*time.Millisecond)
	assert.Less(t, took, 2*time.Second+slack, "a tail guard: without its deadline the call would wait for the release at the end of the test")
	release <- struct{}{}
	v, err := cl.Get(context.Background(), "after-deadline").Result()
	require.NoError(t, err)
	assert.Equal(t, "after-deadline", v)

	ctx, cancel = context.WithCancel(context.Background())
	var cancelled atomic.Int64
	time.AfterFunc(30*time.Millisecond, func() { cancelled.Store(time.Now().UnixNano()); cancel() })
	_, err = cl.Get(ctx, "slow").Result()
	late := time.Since(time.Unix(0, cancelled.Load()))
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, late, core.PullSlice+slack, "the cancellation was noticed within PullSlice")
	release <- struct{}{}
	v, err = cl.Get(context.Background(), "after-cancel").Result()
	require.NoError(t, err)
	assert.Equal(t, "after-cancel", v)

	// Wait's own context bounds the wait the same way.
	f := cl.Get(context.Background(), "slow")
	wctx, wcancel := context.WithTimeout(context.Background(), 40*time.Millisecond)
	defer wcancel()
	_, err = f.Wait(wctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	release <- struct{}{}
	v, err = f.Result()
	require.NoError(t, err)
	assert.Equal(t, "slow", v, "the command itself goes on")
}
