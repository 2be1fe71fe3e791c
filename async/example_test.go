package async_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol/resptest"
)

func Example() {
	// A scripted stand-in for Redis, so the example runs anywhere.
	srv, err := resptest.Start(resptest.Handler(func(args []string) string {
		switch strings.ToUpper(args[0]) {
		case "GET":
			if args[1] == "greeting" {
				return "$5\r\nhello\r\n"
			}
			return "$-1\r\n"
		case "INCR":
			return ":1\r\n"
		}
		return ""
	}))
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	p, err := pool.New(pool.Config{Addr: srv.Addr})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	c := async.NewClient(p)
	ctx := context.Background()

	greeting := c.Get(ctx, "greeting") // all three are pipelined
	missing := c.Get(ctx, "missing")
	visits := c.Incr(ctx, "visits")

	select {
	case <-greeting.Done():
		fmt.Println(greeting.Result())
	case <-ctx.Done():
	}
	_, err = missing.Result()
	fmt.Println(errors.Is(err, async.ErrNil))
	fmt.Println(async.WaitAll(ctx, visits), visits.Val())
	// Output:
	// hello <nil>
	// true
	// <nil> 1
}
