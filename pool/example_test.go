package pool_test

import (
	"context"
	"fmt"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol/resptest"
)

type exampleT struct{ cleanups []func() }

func (e *exampleT) Helper()                   {}
func (e *exampleT) Cleanup(f func())          { e.cleanups = append(e.cleanups, f) }
func (e *exampleT) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

func Example() {
	t := &exampleT{}
	defer func() {
		for _, f := range t.cleanups {
			f()
		}
	}()
	// A stand-in for a Redis server that answers everything with PONG.
	srv := resptest.NewServer(t, resptest.Handler(func([]string) string { return "+PONG\r\n" }))

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
