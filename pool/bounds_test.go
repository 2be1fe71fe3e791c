package pool_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol/resptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newMuteServer accepts connections and never answers anything.
func newMuteServer(t *testing.T) string { return newStubServer(t, func(net.Conn) {}) }

// newStubServer listens on loopback and runs greet on each accepted
// connection, in the accepting goroutine; connections are closed with
// the test.
func newStubServer(t *testing.T, greet func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	closed := false
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed { // accepted just before the listener closed
				mu.Unlock()
				nc.Close()
				return
			}
			conns = append(conns, nc)
			mu.Unlock()
			greet(nc)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for _, nc := range conns {
			nc.Close() // also ends a greet blocked reading
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// within runs fn and fails the test if it takes longer than d.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	start := time.Now()
	fn()
	took := time.Since(start)
	assert.LessOrEqual(t, took, d, "%s took %v", what, took)
}

// The caller's context bounds dialing and the handshake, whether it ends
// by deadline or by cancellation; so does Close.
func TestContextBoundsDialAndHandshake(t *testing.T) {
	pool.CheckLeaks(t)
	addr := newMuteServer(t)
	const limit = 100*time.Millisecond + 150*time.Millisecond

	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			within(t, limit, "Dial", func() {
				_, err := pool.Dial(ctx, pool.Config{Addr: addr})
				var de *pool.DialError
				require.ErrorAs(t, err, &de)
				assert.ErrorIs(t, err, tt.want)
			})

			p, err := pool.New(pool.Config{Addr: addr})
			require.NoError(t, err)
			defer p.Close()
			c := async.NewClient(p)
			ctx, cancel = tt.ctx()
			defer cancel()
			within(t, limit, "Acquire", func() {
				_, err := p.Acquire(ctx)
				assert.ErrorIs(t, err, tt.want)
			})
			ctx, cancel = tt.ctx()
			defer cancel()
			within(t, limit, "Watch", func() {
				err := c.Watch(ctx, func(*async.Tx) error { return nil }, "k")
				assert.ErrorIs(t, err, tt.want)
			})
			ctx, cancel = tt.ctx()
			defer cancel()
			within(t, limit, "TxPipeline.Exec", func() {
				tx := c.TxPipeline()
				tx.Client().Set(ctx, "k", "v")
				assert.ErrorIs(t, tx.Exec(ctx), tt.want)
			})
		})
	}

	t.Run("Close during a dial", func(t *testing.T) {
		p, err := pool.New(pool.Config{Addr: addr})
		require.NoError(t, err)
		acquired := make(chan error, 1)
		go func() {
			_, err := p.Acquire(context.Background())
			acquired <- err
		}()
		f := async.NewClient(p).Get(context.Background(), "k") // waits for the shared dial
		within(t, 250*time.Millisecond, "Close", func() { p.Close() })
		assert.Error(t, <-acquired)
		assert.Error(t, f.Err())
	})
}

// Invalid configurations are errors from the constructor, never a panic
// in a background goroutine.
func TestConfigValidation(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  pool.Config
		want string
	}{
		{"negative backoff", pool.Config{Addr: "x:1", ReconnectBackoff: -time.Second}, "ReconnectBackoff"},
		{"negative max backoff", pool.Config{Addr: "x:1", MaxReconnectBackoff: -time.Second}, "MaxReconnectBackoff"},
		{"negative dial timeout", pool.Config{Addr: "x:1", DialTimeout: -time.Second}, "DialTimeout"},
		{"negative queue bounds", pool.Config{Addr: "x:1", MaxPending: -1}, "MaxPending"},
		{"tls on a unix socket", pool.Config{Addr: "/tmp/redis.sock", TLS: &tls.Config{}}, "TLS"},
		{"negative min size", pool.Config{Addr: "x:1", MinSize: -1}, "MinSize"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pool.New(tt.cfg)
			assert.ErrorContains(t, err, tt.want)
			_, err = pool.Dial(context.Background(), tt.cfg)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

// Subscribe reports a server without RESP3, and a closed pool, at once
// instead of waiting for the caller's deadline.
func TestSubscribeFailsFastOnPermanentErrors(t *testing.T) {
	pool.CheckLeaks(t)
	srv := resptest.NewServer(t, resptest.Handler(func(args []string) string {
		if args[0] == "HELLO" {
			return "-ERR unknown command 'HELLO'\r\n"
		}
		return "+OK\r\n"
	}))
	p, err := pool.New(pool.Config{Addr: srv.Addr})
	require.NoError(t, err)
	defer p.Close()
	ps, err := async.NewClient(p).PubSub(async.PubSubConfig{})
	require.NoError(t, err)
	defer ps.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	within(t, time.Second, "Subscribe on RESP2", func() {
		assert.ErrorIs(t, ps.Subscribe(ctx, "ch"), pool.ErrNeedsRESP3)
	})

	closed, err := pool.New(pool.Config{Addr: srv.Addr})
	require.NoError(t, err)
	closed.Close()
	ps2, err := async.NewClient(closed).PubSub(async.PubSubConfig{})
	require.NoError(t, err)
	defer ps2.Close()
	within(t, time.Second, "Subscribe on a closed pool", func() {
		err := ps2.Subscribe(ctx, "ch")
		assert.ErrorIs(t, err, pool.ErrClosed)
		assert.True(t, core.IsPermanent(err))
	})
}

func TestConfigMasksSecretsForEveryVerb(t *testing.T) {
	cfg := pool.Config{Addr: "x:1", Password: "hunter2"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		assert.NotContains(t, fmt.Sprintf(verb, cfg), "hunter2", verb)
		assert.NotContains(t, fmt.Sprintf(verb, &cfg), "hunter2", verb)
	}
}
