// Package pool owns connections to one Redis server.
//
// A [Conn] is one TCP, TLS or unix-socket connection. [Dial] performs the
// handshake (HELLO 3 with AUTH and SETNAME, falling back to RESP2's AUTH
// and CLIENT SETNAME on servers without HELLO; then SELECT) and starts two
// goroutines: a writer that sends every command queued since its last
// write in one system call (each write bounded by WriteTimeout; woken, it
// first yields once, so that callers already runnable queue theirs and
// share the write), and a
// reader that resolves pending commands strictly in order. A third, the
// watchdog, runs beside them: it PINGs an idle connection and declares the
// connection dead when the server owes replies and has sent no byte for
// ReadTimeout, or a write has not finished within WriteTimeout, so a server
// that stops reading cannot hang a caller. Each connection holds at most
// MaxPending commands and MaxQueueBytes of unwritten ones; a caller that
// finds it full waits for room, at most until its context ends. Waiting
// callers are let in one at a time, in the order they came, each when
// room for its commands frees up (a freed slot wakes one caller, not all
// of them). Commands whose context ends before they are written leave the
// queue. The writer sends what has gathered in writes of up to 256 KiB.
//
// A [Pool] keeps MinSize shared connections (default 1), redials with
// bounded, jittered backoff, runs blocking commands (BLPOP, ...) on
// dedicated connections and lends dedicated connections through
// [Pool.Acquire] for transactions and pub/sub; dedicated connections idle
// for IdleTimeout are closed. Both implement core.Executor. Config.Hooks
// (core.Hooks) observe every command and connection; the asyncotel module
// turns them into OpenTelemetry spans and metrics.
//
// A command that finds its shared connection idle (nothing queued or
// awaited) is written by the caller itself, without waking the writer,
// and its reply is left for the caller to read when it waits in the
// future's Result or Wait (core.Puller): commands that come one at a time
// then cost no goroutine hand-off. Before such a write, where nobody has
// been reading, the connection asks the socket (one non-blocking system
// call) whether the server has closed it, so that a command is not
// written into a connection already closed (it fails unsent instead, safe
// to retry). A caller whose context can end reads for at most
// core.PullSlice before handing the reply to the reader goroutine and
// waiting on its context too; one that waits on Done or a callback has
// the reader goroutine read it at once. Connections with Config.OnPush
// and dedicated connections always read on their reader goroutine.
//
// Once a reply's sink has converted it into values of its own and says so
// (core.Consumer: the futures of MGET, LRANGE, HGETALL and the other typed
// commands that copy elements out), the connection hands the reply's
// element array back to its reader for a later reply (protocol.Reuse).
// Sinks wrapped by hooks, blocking commands or transactions are not
// consumers, so nothing they may keep is reused.
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
// # Cancelling blocking commands
//
// A blocking command whose context ends resolves with ctx.Err() at once;
// the pool then sends CLIENT UNBLOCK for its connection from a shared one
// and puts back any element that reached it in between (see
// core.UndoBlocking), so no element is lost and the connection is
// reused.
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
// *[DialError] (also ErrNotSent); a wrong password matches protocol.ErrAuth.
// Every failure of a command answers core.SafeToRetry: true exactly when
// it was never written (a failed dial, a closed pool), and
// such failures match ErrNotSent. [ErrClosed], [ErrNotSent] and
// [ErrInFlight] are core's, shared by every package of the module.
// Passwords never appear in errors or in [Config.String].
package pool
