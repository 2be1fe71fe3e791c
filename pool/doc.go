// Package pool owns connections to one Redis server.
//
// A [Conn] is one TCP, TLS or unix-socket connection. [Dial] performs the
// handshake (HELLO 3 with AUTH and SETNAME, falling back to RESP2's AUTH
// and CLIENT SETNAME on servers without HELLO; then SELECT) and starts two
// goroutines: a writer that sends every command queued since its last
// write in one system call, and a reader that resolves pending commands
// strictly in order. Health checks PING an idle connection and declare a
// connection dead when the server owes a reply for longer than ReadTimeout.
//
// A [Pool] keeps MinSize shared connections (opening more, up to MaxSize,
// when each has more than PipelineThreshold commands waiting), redials
// with bounded, jittered backoff, runs blocking commands (BLPOP, ...) on
// dedicated connections and lends dedicated connections through
// [Pool.Acquire] for transactions and pub/sub. Both implement
// async.Executor.
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
// Passwords never appear in errors or in [Config.String].
package pool
