// Package sentinel follows Redis masters and replicas through Redis
// Sentinel.
//
// [NewSentinelPool] starts a [SentinelPool]: managed clients for masters
// and replicas ([SentinelPool.MasterFor], [SentinelPool.ReplicaFor]),
// discovery on demand (DiscoverMaster, DiscoverReplicas), raw SENTINEL
// commands (Execute, ExecuteAll), Close, WaitClosed and Closed, as in
// aioredis. [New] returns a [RedisSentinel], which adds every SENTINEL
// command as a typed method.
//
//	s, err := sentinel.New(sentinel.Config{Sentinels: addrs})
//	master := s.MasterFor("mymaster")   // follows failovers on its own
//	replica := s.ReplicaFor("mymaster") // SlaveFor is the same
//	err = master.Set(ctx, "k", "v").Err()
//
// [Config] composes: its Pool field is the pool.Config template of every
// master and replica pool (every pool knob, pool's defaults), its Sentinel
// field configures the connections to sentinels.
//
// # Parts
//
// The sentinel set knows the sentinels' addresses (the last to answer
// first), keeps one connection to each and runs the queries; it is also a
// core.Executor that sends a command to the sentinels in order until one
// answers. Discovery reaches the network only through a small querier
// interface (the sentinels' views of a master and its replicas, a node's
// ROLE). Each service name has a state machine that is pure: events,
// discovery results and the clock go in, decisions come out (start a
// discovery, stop writing to the master, point the pool at an address,
// publish an event). One goroutine, the SentinelPool's loop, owns the state
// machines and carries the decisions out; it alone changes the managed
// pools. Listeners and discovery workers report to it over channels, and
// all of them belong to one lifecycle: nothing starts once Close has
// begun, and Close waits for everything.
//
// # Discovery
//
// Following the Redis sentinel-clients guidelines: every known sentinel is
// asked at once (SENTINEL MASTER and GET-MASTER-ADDR-BY-NAME, each bounded
// by Config.SentinelTimeout, so a dead sentinel costs no more than that);
// the first to answer moves to the front of the list; among the answers
// arriving within 20ms of the first, the highest config epoch wins, so a
// lagging sentinel cannot lead the client back to a demoted master. Every
// address is checked with ROLE before use. Peer sentinels are learned from
// +sentinel events and [SentinelPool.Discover]. Replicas come from
// SENTINEL REPLICAS, leaving out those flagged s_down, o_down or
// disconnected (unless in use), and the sentinels' master-link-status is
// not trusted (it lags a resync by seconds to minutes): each replica is
// judged by its own ROLE (see verifyReplica in discovery.go for the rules:
// a replica whose link is down keeps serving, bounded by
// Config.MaxReplicaStaleness). Each key is read from one of them (by its
// hash slot), so reads of one key stay in issue order.
//
// # Failover
//
// The pool subscribes to +switch-master and the other instance events on
// every known sentinel (up to Config.Listeners, default 16): only the
// failover leader announces that a failover has started. The first
// +switch-master from any of them wins: from that moment nothing more is
// written to the old master, and the new master is used as soon as its
// ROLE says master. A discovery that started before the switch never
// overrides it, the same announcement from other sentinels is an echo, and
// the old master is followed again only after a newer failover (a
// discovery that started after the switch with a newer config epoch, or a
// later +switch-master): a master paused through its own failover still
// says master to ROLE when it wakes up.
//
// The fence: on the first announcement that a failover of the followed
// master has started (+try-failover, +elected-leader,
// +failover-state-select-slave, +selected-slave, ..., through
// +failover-state-reconf-slaves), nothing more is written
// to that master: new commands wait as during a switch (bounded by their
// context and Config.QueueSize; FailFast commands fail with
// ErrFailoverInProgress), commands already written finish normally.
// Writing resumes on +switch-master (to the new master), on
// -failover-abort-* (to the same master, once every sentinel that
// announced a failover has aborted it), or once the sentinels'
// failover-timeout has passed and a re-check finds the same master. Writes
// pause for about the failover's duration instead of being acknowledged by
// a master that is about to lose them. Config.DisableFence turns it off.
//
// Commands in flight on the old master when it is left fail with
// core.ErrInFlight (they may or may not have run), except behind a fence:
// the old master still answers, and what was written to it before the
// fence gets its reply (for up to 5 s, as long as it has not been silent
// for a second: a master paused through its failover would run them when
// it wakes up, still a master) while new commands already go to the new
// master; commands not yet
// written wait for the new master and are then sent (at-most-once). A
// replica selected for promotion stops receiving reads before it is
// promoted, and is read from again if the failover aborts. Replicas are
// judged by their own ROLE on connections kept for these checks, not by
// the sentinels' view of their link, which lags by seconds after a
// failover; they keep serving reads while the master is down. A PubSub
// follows a switch at once (core.TargetWatcher). Events are hints: every
// Config.RecheckInterval every service is rediscovered and re-verified,
// and a lost subscription, connection trouble or READONLY replies trigger
// it at once.
//
// What Redis replication itself can lose is not hidden: writes acknowledged
// by a master that crashes before its replicas received them are gone.
//
// # Concurrency
//
// Everything here is safe for concurrent use. [SentinelPool.Events]
// delivers topology changes on a buffered channel for event-driven
// workers (including EventWritesFenced and EventWritesResumed); Close
// closes it. Config.OnEvent hears every event (the channel drops what a
// slow reader leaves behind), [SentinelPool.Stats] reports each service's
// master, replicas, switches and pools, and hooks in Config.Pool see each
// command with the node that served it. Close stops every goroutine and
// waits for them.
//
// # Errors
//
// [MasterNotFoundError] and [ReplicaNotFoundError] (alias
// SlaveNotFoundError) wrap [ErrNoSentinel] (no sentinel reachable),
// [ErrUnknownName] (no sentinel knows the name) or [ErrNotUsable] (found,
// but down or of the wrong role); [MasterReplyError] and
// [ReplicaReplyError] carry server errors such as a wrong password
// (protocol.ErrAuth). All are matched with errors.Is and errors.As.
// Commands that fail without being written (FailFast, a closed pool, a
// full queue) say so through core.SafeToRetry and core.ErrNotSent;
// [ErrClosed] is core.ErrClosed.
package sentinel
