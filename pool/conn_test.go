package pool

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/asyncredis/asyncredis/protocol/resptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func dialT(t *testing.T, cfg Config) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// echoServer answers GET k with k, PING with PONG, everything else OK.
func echoServer(args []string) string {
	switch strings.ToUpper(args[0]) {
	case "GET":
		return "$" + itoa(len(args[1])) + "\r\n" + args[1] + "\r\n"
	case "PING":
		return "+PONG\r\n"
	}
	return ""
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestConnRESP2FallbackAndHandshake(t *testing.T) {
	checkLeaks(t)
	var mu sync.Mutex
	var seen [][]string
	srv := resptest.NewServer(t, resptest.Handler(func(args []string) string {
		mu.Lock()
		seen = append(seen, args)
		mu.Unlock()
		return echoServer(args)
	}))
	c := dialT(t, Config{Addr: srv.Addr, Username: "u", Password: "p", ClientName: "me", DB: 3})
	assert.Equal(t, 2, c.Protocol())
	v, err := async.NewClient(c).Get(context.Background(), "hello").Result()
	require.NoError(t, err)
	assert.Equal(t, "hello", v)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 5)
	assert.Equal(t, []string{"HELLO", "3", "AUTH", "u", "p", "SETNAME", "me"}, seen[0])
	assert.Equal(t, []string{"AUTH", "u", "p"}, seen[1])
	assert.Equal(t, []string{"CLIENT", "SETNAME", "me"}, seen[2])
	assert.Equal(t, []string{"SELECT", "3"}, seen[3])
}

func TestConnCancelledBeforeWriteIsNeverSent(t *testing.T) {
	checkLeaks(t)
	var gets atomic.Int32
	srv := resptest.NewServer(t, resptest.Handler(func(args []string) string {
		if args[0] == "GET" {
			gets.Add(1)
		}
		return echoServer(args)
	}))
	c := dialT(t, Config{Addr: srv.Addr})
	cl := async.NewClient(c)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := cl.Get(ctx, "x").Result()
	assert.ErrorIs(t, err, context.Canceled)
	v, err := cl.Get(context.Background(), "y").Result()
	require.NoError(t, err)
	assert.Equal(t, "y", v)
	assert.EqualValues(t, 1, gets.Load(), "the cancelled GET never reached the server")
}

func TestConnCancelledAfterWriteKeepsOrder(t *testing.T) {
	checkLeaks(t)
	release := make(chan struct{})
	received := make(chan struct{})
	srv := resptest.NewServer(t, func(c *resptest.Conn) {
		c.Serve(func(args []string) string {
			if args[0] == "GET" && args[1] == "slow" {
				close(received)
				<-release
			}
			return echoServer(args)
		})
	})
	c := dialT(t, Config{Addr: srv.Addr})
	cl := async.NewClient(c)
	ctx, cancel := context.WithCancel(context.Background())
	slow := cl.Get(ctx, "slow")
	next := cl.Get(context.Background(), "next")
	<-received // the server has the GET: cancelling now is after the write
	cancel()
	_, err := slow.Result()
	assert.ErrorIs(t, err, context.Canceled, "the caller gets ctx.Err() at once")
	close(release)
	v, err := next.Result()
	require.NoError(t, err)
	assert.Equal(t, "next", v, "the slow reply was read and discarded, not given to the next command")
	v, err = cl.Get(context.Background(), "after").Result()
	require.NoError(t, err)
	assert.Equal(t, "after", v)
}

func TestConnDeathFailsPendingTyped(t *testing.T) {
	checkLeaks(t)
	got := make(chan struct{})
	srv := resptest.NewServer(t, func(c *resptest.Conn) {
		c.Serve(func(args []string) string {
			if args[0] == "GET" {
				close(got)
				c.Reset() // dies holding the GET
				return ""
			}
			return echoServer(args)
		})
	})
	c := dialT(t, Config{Addr: srv.Addr})
	cl := async.NewClient(c)
	inflight := cl.Get(context.Background(), "k")
	<-got
	err := inflight.Err()
	var ce *ConnError
	require.ErrorAs(t, err, &ce)
	assert.True(t, ce.Sent)
	assert.ErrorIs(t, err, ErrInFlight)
	<-c.Dead()
	err = cl.Get(context.Background(), "later").Err()
	assert.ErrorIs(t, err, ErrNotSent)
	assert.NotErrorIs(t, err, ErrInFlight)
}

func TestConnProtocolErrors(t *testing.T) {
	tests := []struct {
		name  string
		reply string
		want  error
	}{
		{"garbage", "?what\r\n", protocol.ErrMalformed},
		{"huge bulk", "$999999999999\r\n", protocol.ErrLimit},
		{"partial frame then close", "$10\r\nabc", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			srv := resptest.NewServer(t, func(c *resptest.Conn) {
				c.Serve(func(args []string) string {
					if args[0] == "GET" {
						c.WriteRaw(tt.reply)
						c.Close()
					}
					return echoServer(args)
				})
			})
			c := dialT(t, Config{Addr: srv.Addr})
			err := async.NewClient(c).Get(context.Background(), "k").Err()
			assert.ErrorIs(t, err, ErrInFlight)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
			}
		})
	}
}

func TestConnUnexpectedReply(t *testing.T) {
	checkLeaks(t)
	srv := resptest.NewServer(t, func(c *resptest.Conn) {
		c.Serve(echoServer)
	})
	c := dialT(t, Config{Addr: srv.Addr, HealthCheckInterval: -1})
	// A reply nobody asked for: write straight to the server side is not
	// possible here, so send a command behind the connection's back.
	_, err := c.nc.Write([]byte("*1\r\n$4\r\nPING\r\n"))
	require.NoError(t, err)
	<-c.Dead()
	assert.ErrorIs(t, c.Err(), ErrUnexpectedReply)
}

func TestConnHungServerTimesOut(t *testing.T) {
	checkLeaks(t)
	hang := make(chan struct{})
	srv := resptest.NewServer(t, func(c *resptest.Conn) {
		c.Serve(func(args []string) string {
			if args[0] == "GET" {
				<-hang
			}
			return echoServer(args)
		})
	})
	t.Cleanup(func() { close(hang) }) // runs before the server's Close
	c := dialT(t, Config{Addr: srv.Addr, ReadTimeout: 200 * time.Millisecond})
	start := time.Now()
	err := async.NewClient(c).Get(context.Background(), "k").Err()
	assert.ErrorIs(t, err, ErrReadTimeout)
	assert.ErrorIs(t, err, ErrInFlight)
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestConnIdleHealthCheckFindsDeadServer(t *testing.T) {
	checkLeaks(t)
	var pings atomic.Int32
	hang := make(chan struct{})
	srv := resptest.NewServer(t, func(c *resptest.Conn) {
		c.Serve(func(args []string) string {
			if args[0] == "PING" {
				pings.Add(1)
				<-hang // hung: the health check's PING never returns
			}
			return echoServer(args)
		})
	})
	t.Cleanup(func() { close(hang) }) // runs before the server's Close
	c := dialT(t, Config{Addr: srv.Addr, HealthCheckInterval: 50 * time.Millisecond, ReadTimeout: 200 * time.Millisecond})
	select {
	case <-c.Dead():
	case <-time.After(5 * time.Second):
		t.Fatal("an idle connection to a hung server was not found dead")
	}
	assert.ErrorIs(t, c.Err(), ErrReadTimeout)
	assert.EqualValues(t, 1, pings.Load())
}

func TestConnCloseIsIdempotentAndFailsQueued(t *testing.T) {
	checkLeaks(t)
	srv := resptest.NewServer(t, resptest.Handler(echoServer))
	c, err := Dial(context.Background(), Config{Addr: srv.Addr})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	err = async.NewClient(c).Get(context.Background(), "k").Err()
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, err, ErrNotSent)
}

func TestDialErrors(t *testing.T) {
	srv := resptest.NewServer(t, resptest.Handler(func(args []string) string {
		if args[0] == "HELLO" {
			return "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
		}
		return ""
	}))
	_, err := Dial(context.Background(), Config{Addr: srv.Addr, Password: "hunter2"})
	var de *DialError
	require.ErrorAs(t, err, &de)
	assert.ErrorIs(t, err, protocol.ErrAuth)
	assert.NotContains(t, err.Error(), "hunter2")

	_, err = Dial(context.Background(), Config{})
	assert.ErrorContains(t, err, "Addr is required")
	_, err = New(Config{Addr: "x:1", MinSize: -1, MaxSize: 2})
	assert.Error(t, err)

	cfg := Config{Addr: "x:1", Password: "hunter2"}
	assert.NotContains(t, cfg.String(), "hunter2")
	assert.NotContains(t, strings.Join([]string{cfg.GoString()}, ""), "hunter2")

	ln := resptest.NewServer(t, func(c *resptest.Conn) {})
	addr := ln.Addr
	ln.Close()
	_, err = Dial(context.Background(), Config{Addr: addr, DialTimeout: time.Second})
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "dial", de.Step)
	assert.True(t, errors.Is(err, ErrNotSent))
}

// ReadTimeout counts from the last bytes received: a large reply that
// keeps trickling in for several times ReadTimeout is read whole.
func TestConnReadTimeoutCountsFromLastBytes(t *testing.T) {
	checkLeaks(t)
	payload := strings.Repeat("x", 100<<10)
	srv := resptest.NewServer(t, func(c *resptest.Conn) {
		for {
			args, err := c.ReadCommand()
			if err != nil {
				return
			}
			if args[0] == "HELLO" {
				c.WriteRaw("-ERR unknown command 'HELLO'\r\n") // speak RESP2
				continue
			}
			if args[0] != "GET" {
				c.WriteRaw(echoServer(args))
				continue
			}
			// 100 KiB at about 100 KiB/s: a second in all, never more
			// than 10ms without a byte.
			raw := "$" + itoa(len(payload)) + "\r\n" + payload + "\r\n"
			for len(raw) > 0 {
				n := min(1024, len(raw))
				if c.WriteRaw(raw[:n]) != nil {
					return
				}
				raw = raw[n:]
				time.Sleep(10 * time.Millisecond) // pacing the fake server, not synchronisation
			}
		}
	})
	c := dialT(t, Config{Addr: srv.Addr, ReadTimeout: 300 * time.Millisecond})
	start := time.Now()
	v, err := async.NewClient(c).Get(context.Background(), "big").Result()
	require.NoError(t, err)
	assert.Len(t, v, len(payload))
	assert.Greater(t, time.Since(start), 3*300*time.Millisecond, "the reply took several ReadTimeouts to arrive")
	assert.NoError(t, c.Err())
}
