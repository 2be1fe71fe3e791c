// Package managedpool provides a pool whose target addresses are set by a
// controller — the sentinel package's SentinelPool — rather than by
// configuration.
//
// While no verified address is known, commands wait in a line bounded in
// count and bytes (Config.QueueSize, Config.QueueBytes; package
// pool/waitline) until SetAddrs gives one or their context ends; a command
// whose context ends leaves the line at once. A caller that finds the line
// full waits for room, in order, bounded by its context: a failover costs
// time, not errors. With Config.FailFast commands fail at once instead. When SetAddrs replaces an
// address, the old address's pool is closed at once: nothing more is
// written there, its commands in flight fail with pool.ErrInFlight, and its
// commands not yet written are requeued to the new address (they surely did
// not run, so sending them later keeps at-most-once). A connection failure
// or a READONLY reply is reported through Config.OnTrouble; a command that
// was never written because its address failed takes that address out of
// use until the controller verifies it again.
//
// # Concurrency
//
// A Pool is safe for concurrent use; Close closes every underlying pool and
// waits for their goroutines.
//
// # Errors
//
// ErrClosed (core.ErrClosed)
// after Close, and Config.NotFound's error (default ErrNoAddress) under
// FailFast. None of these commands was written: each failure matches
// core.ErrNotSent and core.SafeToRetry says true. Other errors are those
// of package pool.
package managedpool
