// Package pool owns connections to one Redis server.
//
// A [Conn] is one TCP, TLS or unix-socket connection, made of parts that
// each live in a file of their own, where their mechanism is explained:
//
//   - dial.go: dialling and the handshake (HELLO 3 with AUTH and SETNAME,
//     RESP2's AUTH and CLIENT SETNAME on servers without HELLO; SELECT).
//   - writer.go: the write side — the queue, coalescing everything queued
//     since the last write into one system call, and the direct write of a
//     command that finds the connection idle.
//   - reader.go: the read side — who reads replies (the reader goroutine
//     or a caller pulling its own reply, core.Puller) as a state machine,
//     and the matching of replies to commands strictly in order.
//   - watchdog.go: ReadTimeout, WriteTimeout and health checks, beside the
//     writer and the reader so that neither can hide a dead server.
//   - ring.go: the commands written and awaiting replies.
//
// Each connection holds at most MaxPending commands and MaxQueueBytes of
// unwritten ones; a caller that finds it full waits for room in the order
// callers came, at most until its context ends (waitline.Room).
//
// A [Pool] keeps MinSize shared connections (default 1) and redials them
// with bounded, jittered backoff (pool.go); commands that wait for a
// connection being dialled wait in a waitline.Line, bounded in count and
// bytes, and leave it the moment their context ends. One lender
// (lender.go) lends dedicated connections to [Pool.Acquire]
// (transactions, WATCH), to blocking commands (blocking.go, with their
// undo: core.UndoBlocking) and to subscribers; dedicated connections idle
// for IdleTimeout are closed. Both Conn and Pool implement core.Executor.
// Config.Hooks (core.Hooks) observe every command and connection; the
// asyncotel module turns them into OpenTelemetry spans and metrics.
//
// Once a reply's sink has converted it into values of its own and says so
// (core.Consumer: the futures of MGET, LRANGE, HGETALL and the other typed
// commands that copy elements out), the connection hands the reply's
// element array back to its reader for a later reply (protocol.Reuse).
// Sinks that may keep a reply (a blocking command's, for its put-back; a
// transaction's) are not consumers.
//
// # Order
//
// A command goes to the shared connection chosen by the hash slot of its
// first key (CRC16 as in Redis Cluster, {hash tags} honoured; keyless
// commands to the first connection). Commands issued one after another
// from one goroutine therefore run in that order whenever they share a
// connection: always with one shared connection, and for commands on the
// same key (or hash tag) with any number. A multi-key command is ordered
// with the commands on its first key. A pipeline runs in order on the
// connection of its first command. Blocking commands, transactions and
// Acquire use dedicated connections and are not ordered with shared
// traffic: await what must come first.
//
// # Concurrency
//
// Conn and Pool are safe for concurrent use. Every goroutine they start is
// stopped and waited for by Close, which is idempotent.
//
// # Errors
//
// When a connection dies, each command on it fails with a *[ConnError]:
// errors.Is(err, [ErrInFlight]) when it was written and may have run,
// errors.Is(err, [ErrNotSent]) when it surely did not. Dial failures are
// *[DialError] (also ErrNotSent); a wrong password matches
// protocol.ErrAuth. Every failure of a command answers core.SafeToRetry:
// true exactly when it was never written (a failed dial, a closed pool),
// and such failures match ErrNotSent. [ErrClosed], [ErrNotSent] and
// [ErrInFlight] are core's, shared by every package of the module.
// Passwords never appear in errors or in [Config.String].
package pool
