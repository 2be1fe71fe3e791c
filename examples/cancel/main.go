// Command cancel shows request-scoped contexts cancelling commands mid-
// flight while the connection stays healthy.
//
//	go run ./examples/cancel
//
// It uses REDIS_ADDR if set, else a standalone Redis in Docker.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "cancel:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		fmt.Println("REDIS_ADDR not set: starting Redis in Docker...")
		r, err := integration.StartRedis(ctx, integration.RedisConfig{})
		if err != nil {
			return err
		}
		defer r.Close(context.WithoutCancel(ctx))
		addr = r.Addr()
	}
	p, err := pool.New(pool.Config{Addr: addr, MaxSize: 1})
	if err != nil {
		return err
	}
	defer p.Close()
	c := async.NewClient(p)

	// A request handler whose client went away: the slow command's reply is
	// read and dropped, and the caller gets ctx.Err() at the deadline.
	reqCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	start := time.Now()
	_, err = c.Do(reqCtx, "DEBUG", "SLEEP", "0.5").Result()
	cancel()
	took := time.Since(start)
	fmt.Printf("slow command: %v after %v\n", err, took.Round(time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) || took > 150*time.Millisecond {
		return fmt.Errorf("slow command: want the deadline's error at the deadline, got %v after %v", err, took)
	}

	// Cancelled before it could be written: never sent at all.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	err = c.Set(gone, "never", "sent").Err()
	fmt.Printf("cancelled before sending: %v\n", err)
	n, err := c.Exists(ctx, "never").Wait(ctx)
	fmt.Printf("key 'never' exists: %d (%v)\n", n, err)
	if n != 0 || err != nil {
		return fmt.Errorf("a command cancelled before sending reached the server (%d, %v)", n, err)
	}

	// The same connection answers the next command correctly.
	if err := c.Set(ctx, "after", "fine").Err(); err != nil {
		return err
	}
	v, err := c.Get(ctx, "after").Result()
	fmt.Printf("next command on the same connection: %q %v (connections: %d)\n", v, err, p.Stats().Conns)
	return err
}
