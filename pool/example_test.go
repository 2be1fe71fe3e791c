package pool_test

import (
	"context"
	"fmt"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol/resptest"
)

func Example() {
	// A stand-in for a Redis server that answers everything with PONG.
	srv, err := resptest.Start(resptest.Handler(func([]string) string { return "+PONG\r\n" }))
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	p, err := pool.New(pool.Config{Addr: srv.Addr, MinSize: 1, MaxSize: 4})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	c := async.NewClient(p)
	fmt.Println(c.Ping(context.Background()).Result())
	fmt.Println(p.Stats().Conns)
	// Output:
	// PONG <nil>
	// 1
}
