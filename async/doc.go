// Package async holds futures and the typed command client.
//
// Every command method of [Client] returns at once with a *[Future]; the
// reply arrives later. A future resolves exactly once, with a value or an
// error. Its Done channel is closed on resolution, so it can sit in a
// select beside pub/sub channels and timers; Result blocks until then.
//
//	f := c.Get(ctx, "user:1")        // sent now, in a pipeline
//	g := c.Incr(ctx, "visits")
//	name, err := f.Result()          // wait for one
//	name, err = f.Wait(reqCtx)       // or until reqCtx ends (the command's own ctx still decides its fate)
//	err = async.WaitAll(ctx, f, g)   // or for many
//
// A future is 48 bytes for a string reply; a command's context is not
// watched by a timer of its own: whoever looks at the future after the
// context ended (Result, Wait, Done, IsResolved, a late reply) sees it
// resolved with ctx.Err(), and Done's channel is closed by then.
//
// Values are strings, []byte, integers, floats, bools or nil; other types
// (time.Duration, fmt.Stringer, structs) have no single Redis encoding and
// fail with *protocol.ArgError before anything is sent.
//
// The client sends through a core.Executor: pool.Pool, pool.Conn, the
// managed pools of the sentinel package, or any other implementation of
// the contract in package async/core. A future's resolving side is
// private: only the executor its command went to can resolve it. For
// values computed elsewhere, [Promise] returns a future with its resolver.
//
// # Pipelines, transactions, scripts, scans, pub/sub
//
// [Client.Pipeline] queues commands, each with its own future, and sends
// them in one write; [Client.TxPipeline] wraps them in MULTI/EXEC on a
// dedicated connection, resolving each future from EXEC's reply (EXECABORT
// and aborted transactions fail them with typed errors). [Client.Watch]
// and [Client.WatchRetry] run a function with keys watched on a dedicated
// connection and retry on [ErrTxFailed]; the connection is released on
// every path, panics included. [Script] runs EVALSHA and falls back to
// EVAL on NOSCRIPT. [Client.Scan], SScan, HScan and ZScan are iter.Seq2
// iterators that fetch pages lazily; ScanPage and friends give one page at
// a time. [Client.PubSub] subscribes on a dedicated RESP3 connection and
// resubscribes after reconnects and failovers; its Messages channel is
// bounded, and when a consumer falls behind new messages are dropped
// (counted) but never the KindDisconnected and KindResubscribed events,
// which take the oldest message's place.
//
// # Order
//
// Commands issued one after another on one Client run in that order,
// whether or not the earlier ones were awaited: a SET that is not awaited
// and the GET after it never swap. Pools choose a command's connection by
// its first key's hash slot, never round-robin; see [Client] for what is
// ordered across multi-key commands, pipelines and dedicated connections.
// [Client.Do] refuses, with a *[CommandError], commands that would shift a
// connection's replies or change a shared connection's state.
//
// # Contexts
//
// The context given at call time governs the command. Ended before the
// command is written, the command is never sent. Ended after, the future
// fails with ctx.Err() at once; the reply is still read and discarded, so
// the connection stays in step. When the executor was retrying the
// command (a cluster that refused it for now, a node it could not reach)
// and noted why (core.CauseNoter), the error is a *core.WaitingError:
// errors.Is matches both ctx.Err() and that cause. "At once" has one bound: a caller that
// reads its own reply in Result or Wait (a command that found its
// connection idle, see the pool package) cannot watch a context while it
// reads, so it reads for at most core.PullSlice (2 ms) while the context
// can end: a deadline is kept exactly, a cancellation is noticed within
// that time.
//
// A blocking command (BLPOP, BRPOP, BLMOVE, BLMPOP, BZPOPMIN, BZPOPMAX,
// BZMPOP, XREAD and XREADGROUP with BLOCK) is the documented exception:
// cancelled after it was written, it is woken with CLIENT UNBLOCK, and an
// element that reached it anyway is put back ([UndoBlocking]), so a
// cancelled blocking command never silently loses an element.
//
// # Values
//
// Keys are strings; values are any type protocol.AppendArg accepts
// (strings, bytes, numbers, bools, and encoding.BinaryMarshaler values;
// time.Duration and time.Time are refused as ambiguous). Replies
// come as the method's type; [Cmd] sends any command and reads its reply
// with a converter of the caller's choice ([ToString], [ToBytes],
// [ToInt64], [ToFloat64], [ToBool], [ToDuration], [ToStringMap], ...), and
// [Client.Do] returns the raw protocol.Value.
//
// # Concurrency
//
// A Client and its futures are safe for concurrent use. [Map] callbacks
// run on the resolving goroutine and must not block.
//
// # Errors
//
// A null reply (missing key, blocking pop time-out) is [ErrNil]. A reply of
// the wrong shape is a *[TypeError]. Server error replies are
// *protocol.RedisError, matched with errors.Is (protocol.ErrWrongType, ...).
// Connection failures are the executor's typed errors (pool.ConnError).
//
// # Retries and closing
//
// A client sends each command once. [Client.WithRetries] returns one that
// sends again, within the command's context, reads that failed in flight
// (core.ErrInFlight) and any command that surely did not run
// (core.SafeToRetry); a write in doubt is never sent twice. A client made
// by the connect package owns its pool, sentinel pool or cluster and
// [Client.Close] closes it; one made with [NewClient] owns nothing.
package async
