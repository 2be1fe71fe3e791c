package core_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// echo is an Executor that answers every command with PONG, and refuses,
// unsent, once closed.
type echo struct{ closed bool }

func (e *echo) Exec(_ context.Context, cmd *core.Command, sink core.Sink) {
	if e.closed {
		core.FailNotSent(cmd, sink, core.ErrClosed) // the one way to fail an unwritten command
		return
	}
	cmd.Release()
	sink.Complete(protocol.Value{Kind: protocol.KindSimpleString, Str: "PONG"}, nil)
}

// An executor completes each command's sink exactly once; the typed
// client turns that into futures. Failures say whether the command may
// have run.
func Example() {
	ex := &echo{}
	c := async.NewClient(ex)
	fmt.Println(c.Ping(context.Background()).Result())

	ex.closed = true
	err := c.Ping(context.Background()).Err()
	fmt.Println(errors.Is(err, core.ErrClosed), core.SafeToRetry(err))
	// Output:
	// PONG <nil>
	// true true
}
