// Command standalone opens a client from a URL in one call and shows the
// futures: awaited, selected on, fired without waiting, pipelined.
//
//	go run ./examples/standalone
//
// With REDIS_URL set (redis://, rediss://, unix://, or a Sentinel or
// Cluster URL: see connect.ParseURL) it uses that server; otherwise it
// starts one in Docker through the integration harness and removes it at
// the end, also on Ctrl-C.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/connect"
	"github.com/asyncredis/asyncredis/integration"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "standalone:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		fmt.Println("REDIS_URL not set: starting a Redis in Docker...")
		r, err := integration.StartRedis(ctx, integration.RedisConfig{Password: "example"})
		if err != nil {
			return err
		}
		defer r.Close(context.WithoutCancel(ctx))
		url = "redis://:example@" + r.Addr() + "/0?client_name=standalone-example"
	}

	c, err := connect.URL(ctx, url) // waits for a first PING, bounded by ctx
	if err != nil {
		return err
	}
	defer c.Close()

	// Await one command.
	if err := c.Set(ctx, "example:greeting", "hello").Err(); err != nil {
		return err
	}
	v, err := c.Get(ctx, "example:greeting").Result()
	if err != nil {
		return err
	}
	fmt.Println("GET example:greeting =", v)

	// Fire many without waiting: each call returns a future at once, and
	// they go out pipelined on one connection, in the order issued.
	futs := make([]async.Awaitable, 1000)
	for i := range futs {
		futs[i] = c.Incr(ctx, "example:counter")
	}
	if err := async.WaitAll(ctx, futs...); err != nil {
		return err
	}
	n, err := c.Get(ctx, "example:counter").Result()
	if err != nil {
		return err
	}
	fmt.Println("1000 INCRs acknowledged; counter =", n)

	// Select on a future beside a deadline of the caller's own.
	f := c.Ping(ctx)
	select {
	case <-f.Done():
		pong, err := f.Result()
		fmt.Println("PING:", pong, err)
	case <-time.After(time.Second):
		return fmt.Errorf("no PONG within a second")
	}

	// A transaction: MULTI/EXEC on a connection of its own.
	tx := c.TxPipeline()
	tx.Client().Set(ctx, "example:a", "1")
	incr := tx.Client().Incr(ctx, "example:a")
	if err := tx.Exec(ctx); err != nil {
		return err
	}
	a, err := incr.Result()
	fmt.Println("in a transaction: SET a 1, INCR a =", a, err)
	return c.Del(ctx, "example:greeting", "example:counter", "example:a").Err()
}
