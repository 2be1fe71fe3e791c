package core

import (
	"context"
	"time"

	"github.com/asyncredis/asyncredis/protocol"
)

// Hooks let a caller observe what a pool does — for tracing, metrics or
// logs (see the asyncotel module for OpenTelemetry). Every field is
// optional. A pool without hooks pays one nil check per command; with
// Command set, a command costs one more allocation (the closure it
// returns, if any) and two clock reads.
//
// Hooks run on the pool's goroutines (a caller's, a connection's writer
// or reader): they must be quick and must not block.
type Hooks struct {
	// Command is called when a command is handed to a connection, or
	// when a pool fails it before any connection took it (closed, dial
	// failing). The func it returns, if not nil, is called exactly once
	// with the command's outcome; ctx is the command's context.
	Command func(ctx context.Context, info CommandInfo) func(CommandResult)
	// Conn is called when a connection is dialled, fails to dial, or
	// closes.
	Conn func(ConnEvent)
}

// CommandInfo describes a command as it is handed to a connection.
type CommandInfo struct {
	Name     string // the command's name as sent, e.g. "GET" or "get"
	Args     int    // arguments after the name
	Keys     int    // keys among them: 0 for a keyless command
	Addr     string // the server's address (host:port, or a socket path)
	DB       int    // the database the connection selected
	Pipeline int    // commands handed over together by one call (1: a single command)
}

// CommandResult is how a command ended.
type CommandResult struct {
	Duration time.Duration // from hand-over to the reply or failure
	Err      error         // the failure or the server's error reply (protocol.RedisError.Redacted: no quoted arguments); nil on success
	Sent     bool          // whether it may have reached the server (!SafeToRetry(Err))
	Requeued bool          // taken back unsent, to be sent elsewhere (a failover): it is reported again there
}

// Connection event kinds.
const (
	ConnDialled    = "dialled"
	ConnDialFailed = "dial-failed"
	ConnClosed     = "closed"
)

// ConnEvent is a connection opening or closing.
type ConnEvent struct {
	Kind      string // ConnDialled, ConnDialFailed or ConnClosed
	Addr      string
	Dedicated bool  // a dedicated connection (blocking commands, transactions, pub/sub) rather than a shared one
	Err       error // why a dial failed or a connection closed (ErrClosed when closed on purpose)
}

// JoinHooks returns hooks that call each of hs in order (nil entries are
// skipped), or nil when none is set.
func JoinHooks(hs ...*Hooks) *Hooks {
	var cmd []func(context.Context, CommandInfo) func(CommandResult)
	var conn []func(ConnEvent)
	for _, h := range hs {
		if h == nil {
			continue
		}
		if h.Command != nil {
			cmd = append(cmd, h.Command)
		}
		if h.Conn != nil {
			conn = append(conn, h.Conn)
		}
	}
	if len(cmd) == 0 && len(conn) == 0 {
		return nil
	}
	out := &Hooks{}
	if len(cmd) == 1 {
		out.Command = cmd[0]
	} else if len(cmd) > 1 {
		out.Command = func(ctx context.Context, info CommandInfo) func(CommandResult) {
			var ends []func(CommandResult)
			for _, c := range cmd {
				if end := c(ctx, info); end != nil {
					ends = append(ends, end)
				}
			}
			if len(ends) == 0 {
				return nil
			}
			return func(r CommandResult) {
				for _, end := range ends {
					end(r)
				}
			}
		}
	}
	if len(conn) > 0 {
		out.Conn = func(e ConnEvent) {
			for _, c := range conn {
				c(e)
			}
		}
	}
	return out
}

// Describe returns what a hook learns about cmd, sent to addr (db) with
// pipeline commands in all.
func (c *Command) Describe(addr string, db, pipeline int) CommandInfo {
	info := CommandInfo{Addr: addr, DB: db, Pipeline: pipeline}
	p := argParser{buf: c.Buf}
	n, ok := p.header('*')
	if !ok || n < 1 {
		return info
	}
	name, _ := p.next()
	info.Name, info.Args = string(name), n-1
	if _, hasKey := firstKey(c.Buf); hasKey {
		info.Keys = keyCount(info.Name, info.Args)
	}
	return info
}

// keyCount is how many of a command's args are keys, for one that has at
// least one (the command table says).
func keyCount(name string, args int) int {
	switch lookup([]byte(name)).count {
	case countAll:
		return args
	case countPairs:
		return args / 2
	}
	return 1
}

// HookedSink wraps sink so that end hears the outcome. Executors call it
// when they accept a command and their Hooks.Command returned a func.
func HookedSink(sink Sink, end func(CommandResult)) Sink {
	return &hookedSink{Wrapper: Wrapper{sink}, end: end, start: time.Now()}
}

type hookedSink struct {
	Wrapper
	end   func(CommandResult)
	start time.Time
}

func (h *hookedSink) result(err error) CommandResult {
	sent := err == nil || !SafeToRetry(err)
	if re, ok := err.(*protocol.RedisError); ok {
		err = re.Redacted() // the caller's own error stays whole
	}
	return CommandResult{Duration: time.Since(h.start), Err: err, Sent: sent}
}

func (h *hookedSink) Complete(v protocol.Value, err error) { h.Offer(v, err) }

// Offer forwards to the wrapped sink (core.Offer) and reports the outcome.
func (h *hookedSink) Offer(v protocol.Value, err error) bool {
	failed := err
	if failed == nil {
		failed = v.Err() // an error reply is the command's failure too
	}
	h.end(h.result(failed)) // first: the caller may look as soon as the sink has the reply
	return h.Wrapper.Offer(v, err)
}

// Requeue forwards to the wrapped sink if it can take the command back,
// and reports the command as requeued: it is reported again where it goes.
func (h *hookedSink) Requeue(cmd *Command, err error) bool {
	if !h.Wrapper.Requeue(cmd, err) {
		return false
	}
	r := h.result(NotSent(err))
	r.Requeued = true
	h.end(r)
	return true
}
