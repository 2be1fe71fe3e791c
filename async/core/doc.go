// Package core is the contract between the typed client (package async)
// and the transports that run commands (pool, managedpool, sentinel), and
// the vocabulary of outcomes they share.
//
// A Command is one encoded command. An Executor takes ownership of it and
// completes its Sink exactly once, with the reply or an error. Executors
// may offer more: BatchExecutor (several commands in one write),
// Acquirer (a dedicated connection for transactions), SubscriberSource
// (pub/sub connections), Dedicated (connection-state commands allowed).
// A sink that is a Requeuer can take back a command its executor never
// wrote, which is how a managed pool sends it to the next master;
// executors fail unwritten commands through FailNotSent so that this
// happens in one place. A sink that is a PullSink (a future, or a wrapper
// that forwards to one) can have its reply left for its waiter to read
// on its own goroutine: the executor marks it with a PullMark, and the
// waiter calls the mark's Puller (Pull to read, Handover when it waits
// another way).
//
// # Layers
//
// protocol imports nothing of the module; core imports protocol; the
// typed client, package async, imports core and protocol and never a
// transport. Routing — pool, pool/waitline, managedpool and pool/cluster
// but its facade file (whole.go) — imports core and protocol, never
// async: it runs commands it does not read. Facades wrap a transport in
// the typed client and may import async: async/connect, pool/cluster's
// whole.go (Client and the whole-cluster helpers), and sentinel, which is
// also a client of the sentinels it asks (SENTINEL and ROLE through the
// typed client). layering_test.go checks this on every test run. Futures
// implement Sink privately: only their executor resolves them.
//
// # Errors
//
// One predicate, SafeToRetry, says whether a failed command surely did
// not run; the failures that say yes also match ErrNotSent, those of
// commands written to a connection that then died match ErrInFlight.
// ErrClosed is the one error matched after any Close. Permanent errors
// (IsPermanent) are those retrying cannot cure.
//
// # Concurrency
//
// Executors are safe for concurrent use; a Sink may be completed from any
// goroutine.
package core
