package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

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

// Hooks observe every command a pool (or Dial's connection) handles,
// with its server and outcome, and connections opening and closing.
// JoinHooks composes several (the asyncotel module provides
// OpenTelemetry ones).
func ExampleHooks() {
	var commands []string
	logHook := &core.Hooks{
		Command: func(ctx context.Context, info core.CommandInfo) func(core.CommandResult) {
			return func(r core.CommandResult) {
				commands = append(commands, fmt.Sprintf("%s keys=%d err=%v sent=%v", info.Name, info.Keys, r.Err, r.Sent))
			}
		},
	}
	hooks := core.JoinHooks(logHook, nil)
	// pool.Config{Addr: ..., Hooks: hooks} would call them for each
	// command; here a stand-in executor does, as a pool does.
	ex := &hooked{ex: &echo{}, hooks: hooks}
	c := async.NewClient(ex)
	c.Ping(context.Background()).Err()
	c.MGet(context.Background(), "a", "b").Err()
	fmt.Println(strings.Join(commands, "\n"))
	// Output:
	// PING keys=0 err=<nil> sent=true
	// MGET keys=2 err=<nil> sent=true
}

// hooked calls hooks around another executor, as pool.Pool does.
type hooked struct {
	ex    core.Executor
	hooks *core.Hooks
}

func (h *hooked) Exec(ctx context.Context, cmd *core.Command, sink core.Sink) {
	if end := h.hooks.Command(ctx, cmd.Describe("127.0.0.1:6379", 0, 1)); end != nil {
		sink = core.HookedSink(sink, end)
	}
	h.ex.Exec(ctx, cmd, sink)
}
