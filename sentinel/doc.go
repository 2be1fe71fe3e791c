// Package sentinel follows Redis masters and replicas through Redis
// Sentinel.
//
// [New] returns a [RedisSentinel]: the facade over a [SentinelPool], the one
// goroutine that owns sentinel connections, discovery, event subscriptions,
// periodic re-checks and the managed pools of every service name.
//
//	s, err := sentinel.New(ctx, sentinel.Config{Sentinels: addrs})
//	master := s.MasterFor("mymaster") // follows failovers on its own
//	replica := s.SlaveFor("mymaster")
//	err = master.Set(ctx, "k", "v").Err()
//
// # Discovery
//
// Following the Redis sentinel-clients guidelines: every known sentinel is
// asked at once (SENTINEL MASTER, each bounded by Config.SentinelTimeout, so
// a dead sentinel costs no more than that); the first to answer moves to the
// front of the list; among the answers arriving within 20ms of the first,
// the highest config epoch wins, so a lagging sentinel cannot lead the
// client back to a demoted master. Every address is checked with ROLE
// before use. Peer sentinels are learned from +sentinel events and
// [RedisSentinel.Discover]. Replicas come from SENTINEL REPLICAS: healthy
// ones (no s_down, o_down or disconnected flag) whose ROLE says slave,
// each key read from one of them (by its hash slot), so reads of one key
// stay in issue order.
//
// # Failover
//
// The pool subscribes to +switch-master and the other instance events on
// up to Config.Listeners sentinels. The first +switch-master from any of
// them wins (the failover leader announces last): the old master's pool is
// closed at once, so nothing more is written there, and the new master is
// used as soon as its ROLE says master. Commands in flight on the old
// master fail with pool.ErrInFlight (they may or may not have run);
// commands not yet written wait for the new master and are then sent
// (at-most-once). A replica selected for promotion (+selected-slave) stops
// receiving reads before it is promoted. Events are hints: every
// Config.RecheckInterval every service is rediscovered and re-verified,
// and connection trouble or READONLY replies trigger it at once.
//
// What Redis replication itself can lose is not hidden: writes acknowledged
// by a master that crashes before its replicas received them are gone, and
// in a manual failover the old master keeps acknowledging writes until the
// first +switch-master reaches the client.
//
// # Concurrency
//
// Everything here is safe for concurrent use. [SentinelPool.Events]
// delivers topology changes on a buffered channel for event-driven
// workers. Close stops every goroutine and waits for them; WaitClosed and
// Closed are as in aioredis.
//
// # Errors
//
// [MasterNotFoundError] and [SlaveNotFoundError] wrap [ErrNoSentinel] (no
// sentinel reachable), [ErrUnknownName] (no sentinel knows the name) or
// [ErrNotUsable] (found, but down or of the wrong role); [MasterReplyError]
// and [SlaveReplyError] carry server errors such as a wrong password
// (protocol.ErrAuth). All are matched with errors.Is and errors.As.
package sentinel
