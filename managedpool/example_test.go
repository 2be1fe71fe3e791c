package managedpool_test

import (
	"context"
	"fmt"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/managedpool"
	"github.com/asyncredis/asyncredis/protocol/resptest"
)

func Example() {
	// Two stand-ins for Redis servers that say who they are.
	serve := func(name string) *resptest.Server {
		s, err := resptest.Start(resptest.Handler(func([]string) string { return "+" + name + "\r\n" }))
		if err != nil {
			panic(err)
		}
		return s
	}
	a, b := serve("a"), serve("b")
	defer a.Close()
	defer b.Close()

	p := managedpool.New(managedpool.Config{})
	defer p.Close()
	c := async.NewClient(p)
	ctx := context.Background()

	waiting := async.Cmd(ctx, c, async.ToString, "WHO") // no address yet: it waits
	p.SetAddrs([]string{a.Addr})                        // the controller verified a
	fmt.Println(waiting.Result())
	p.SetAddrs([]string{b.Addr}) // a switch: nothing more goes to a
	fmt.Println(async.Cmd(ctx, c, async.ToString, "WHO").Result())
	// Output:
	// a <nil>
	// b <nil>
}
