// Package cluster is a Redis Cluster client on the same futures and
// contracts as the rest of asyncredis: one [Cluster] keeps the slot map
// and a pool.Pool per node, and sends each command to its slot's owner.
//
//	c, err := cluster.New(ctx, cluster.Config{Seeds: []string{"10.0.0.1:6379"}})
//	cl := c.Client()                  // the typed *async.Client
//	err = cl.Set(ctx, "k", "v").Err()
//
// [Config] composes: its Pool field is the pool.Config of every node's
// pool (credentials, TLS, timeouts, limits, hooks, sizes).
//
// # Routing
//
// A command goes to the master of its first key's hash slot (CRC16 of the
// key or of its {hash tag}, modulo 16384: [Slot]), over that node's shared
// pipelined connection. Keyless commands go to one master: the owner of
// slot 0. SCAN, KEYS, DBSIZE, FLUSHALL, FLUSHDB and RANDOMKEY would cover
// that node only, so they are refused ([ErrWholeCluster]): use
// [Cluster.Scan], [Cluster.ForEachMaster] or [Cluster.ForEachNode].
//
// With a replica [Config.Reads] policy, read-only commands (the table of
// core.ReadOnly) go to the slot master's replicas over READONLY
// connections, one replica per slot so that reads of a key stay in order
// among themselves. A replica the map reports failed or loading, or that
// could not be reached in the last second, is left out; reads then wait
// for one (ReadReplica) or go to the master (ReadReplicaPreferred).
// ReadNearest spreads a shard's reads over its master and replicas by
// slot; it does not measure round trips in a cluster.
//
// # The slot map
//
// New reads the map from the seeds (CLUSTER SHARDS with the masters'
// config epochs from CLUSTER NODES, or CLUSTER SLOTS before Redis 7),
// each bounded by [Config.RefreshTimeout], and fails with [ErrNoNodes] if
// none answers. After that one goroutine refreshes it: at once after a
// MOVED, a CLUSTERDOWN or a node that could not be reached, and every
// [Config.RefreshInterval]; asks that come while a refresh is pending are
// coalesced into it. The map is asked over connections of the client's
// own (not behind the commands queued on the shared ones): masters first,
// in random order, then replicas, then the seeds, the next one as soon as
// the last has failed or has not answered for 10 ms. New and each refresh
// end by their context.
//
// A slot's owner follows the cluster's own view. A MOVED sets its slot at
// once, and a refresh that began before that MOVED does not undo it, but
// a MOVED carries no config epoch and never outranks a map read after it
// (a node may redirect to a node that is gone). Epochs are taken from the
// nodes (CLUSTER NODES), never invented: a map that names, for a slot, an
// owner of an older config epoch than the one followed is stale (a node
// that has not heard of a failover yet) and that slot keeps its owner —
// for at most 2 s of such maps with none confirming the claim followed,
// after which the maps win (the trust in an epoch is bounded: a node that
// announces an absurd one cannot freeze its slots). Nodes that leave the
// map are closed once the commands out on them have come back (at once
// when the map reports them failed, or when they have been silent for a
// second).
//
// A map is checked before it is used: slot bounds are integers within
// 0–16383 and no slot is claimed twice; the map names at most
// [Config.MaxNodes] nodes and [Config.MaxReplicasPerShard] replicas per
// shard (defaults 1000 and 64); its replies are read with no array longer
// than 32768 elements, so that an absurd one fails at its header. A
// malformed or oversized map is refused (the next node is asked). A node
// whose address cannot be dialled (a port outside 1–65535, a host with
// spaces or control characters) makes the map invalid if it is a master
// with slots, and is otherwise left out; either way it is reported with
// [EventBadAddress] and never dialled. Every address, from the map or a
// redirect, goes through [Config.AddrMapper].
//
// A node that cannot be reached, or whose connection dies with commands
// in flight, counts as down for a second; a master that has had commands
// out and sent nothing for 500 ms (a host cut off, a process paused), a
// master whose commands have waited 500 ms for a connection it is still
// dialling (a host gone since its last connection died: the dial hangs),
// and a CLUSTERDOWN reply put the map under watch for 2 s, renewed while
// the master stays so. While a down node
// owns slots or the map is watched, it is read again every ~10 ms
// (jittered; every ~500 ms after 30 s of this), from the other nodes
// first, so that a replica's promotion is followed within milliseconds of
// any node showing it; the commands that were never written wait for the
// new owner, bounded by their context and the retry bounds.
//
// # Redirects and order
//
// The caller never sees MOVED, ASK, TRYAGAIN or CLUSTERDOWN (up to
// [Config.MaxRedirects] redirects, and the retry bounds below). Each is
// handled per command, never per batch: one MOVED in a pipeline of a
// thousand commands sends one command again.
//
//   - MOVED: the slot gets its new owner and the command is sent there.
//     Two nodes that send a command back and forth (one has heard of a
//     move's end before the other) make it pause the retry backoff from
//     its third redirect on.
//   - ASK: the command is sent once to the target with ASKING before it;
//     the map is unchanged.
//   - TRYAGAIN, CLUSTERDOWN (the command did not run): sent again after a
//     jittered pause ([Config.RetryBackoff]) until its context ends,
//     [Config.RetryTimeout] passes or [Config.MaxRetries] is reached.
//   - A node that cannot be reached (the pool gives the command back
//     unwritten): the map is refreshed and the command sent again after a
//     pause, under the same bounds. The pause is for trying the same node
//     again: once the map names another owner for the slot, its waiting
//     commands go there at once.
//   - A slot no node serves (CLUSTER DELSLOTS, a map with a gap; under
//     ReadReplica, no replica): the command waits for one, under the same
//     bounds.
//
// Every command so retried ends by its context, RetryTimeout or
// MaxRetries, whichever comes first, with a [*GaveUpError] that matches
// both what ended it (context.DeadlineExceeded, [ErrRetryTimeout],
// [ErrMaxRetries]) and the last cause it met (protocol.ErrTryAgain,
// protocol.ErrClusterDown, the dial error, [ErrSlotNotServed]); it
// matches core.ErrNotSent. A command whose next retry would come after
// its context's deadline ends then, with that error. One whose context
// ends first (while a node's pool dials for it, say) fails with a
// *core.WaitingError: it matches the context's error and the last cause
// too, but not core.ErrNotSent (where the command was is not known).
//
// Redirect addresses are read in every form Redis writes ("host:port";
// ":port" and "?:port" for the node that answered; IPv6 with or without
// brackets) and mapped by [Config.AddrMapper]. A redirect is followed only
// to a node the map names, or a seed: to any other address the command
// waits for the map to be read again and goes where it then says, and
// redirected outside the map a second time it fails with a
// [*RedirectError] matching [ErrUnknownNode] (or [ErrBadAddress]). So no
// connection, and no credential, goes to a node that is not part of the
// cluster. go-redis and rueidis follow a redirect to any address;
// [Config.FollowRedirectsAnywhere] does the same here.
//
// Issue order holds per slot across all of these. Each slot has a gate
// (slots.go, retry.go): when one of its commands comes back for another try, the
// slot's later commands wait in line behind it, and the waiting ones are
// sent, in issue order, once every command of the slot sent before has
// come back; a slot's owner changes only at that moment too, so that a
// command sent to the new owner never overtakes one redirected there from
// the old. One exception comes from Redis itself: a command refused with
// TRYAGAIN or CLUSTERDOWN is retried after commands that were pipelined
// behind it and that the server ran meanwhile (MOVED and ASK do not have
// this: once a slot or key has moved, every later command on it is
// redirected too).
//
// Commands waiting for their slot are bounded by [Config.MaxWaiting] and
// [Config.MaxWaitingBytes]; a new command finding the line full waits for
// room, and a waiting command whose context ends fails at that moment
// with its context's error (never sent).
//
// # Multi-key commands
//
// Keys in one slot go as they are. MGET, DEL, UNLINK, EXISTS, TOUCH and
// MSET over several slots are split by slot and merged in the caller's
// key order into one reply; MSET is then not atomic across slots (each
// slot's part is). When a part fails, the caller gets a [*SplitError]
// listing each part's outcome (ran, surely not run, in doubt, with its
// keys' positions): it is safe to retry, and matches core.ErrNotSent,
// only if no part may have run, so async.Client.WithRetries never sends
// a part that ran again. Any other command whose keys span slots is refused
// before sending with a [*CrossSlotError] (errors.Is ErrCrossSlot),
// naming the slots.
//
// # Transactions, scripts, blocking commands, pub/sub
//
// TxPipeline and Watch run on a dedicated connection to the master of the
// slot of their first keyed command; every key must be in that slot.
// EVAL, EVALSHA and FCALL route by their keys like any command. A MOVED or
// ASK on a dedicated connection reaches the caller as a [*RedirectError]
// (core.SafeToRetry reports true: it did not run) after updating the
// map, and a transaction with such a command fails whole with it.
//
// Blocking commands (BLPOP, ...) run on a dedicated connection to the
// slot's owner with the pool's lossless cancel (CLIENT UNBLOCK and
// put-back).
//
// Pub/sub ([Cluster.Subscriber], used by async.Client.PubSub): SUBSCRIBE
// and PSUBSCRIBE on one master (PUBLISH reaches every node), SSUBSCRIBE
// on each channel's slot master, or, under a replica read policy, on one
// of its replicas (it receives what the master publishes, and stays
// subscribed when it is promoted) — one that the master's own view
// (its CLUSTER NODES, asked when not known) names as its replica: a
// master passes sharded messages over the cluster bus only to the
// replicas it knows of, and after a failover the demoted master is named
// a replica by the other nodes before the new master hears of it (a
// subscription placed there in that moment, tens of milliseconds, would
// miss what is published with no event to say so). Failing that, the
// channel is subscribed on the master, and a replica subscription whose
// master's view stops naming its node moves. When a node's connection is lost, a
// node drops a sharded channel because its slot moved, or the map (a
// refresh, or a MOVED) shows the slot served elsewhere, the subscriber
// reconnects where the map says, with the KindDisconnected and
// KindResubscribed events of async.PubSub. The connections to the other
// nodes are kept through that (the set's successor takes them: the
// core.SubSuccessor contract): their channels miss nothing, even while
// the cluster refuses every command with CLUSTERDOWN until a lost
// master's replica is promoted. An SSUBSCRIBE goes as one command per
// slot (a node refuses channels of two slots together, CROSSSLOT); one
// that a node refuses for the moment (MOVED, ASK, CLUSTERDOWN, TRYAGAIN,
// MASTERDOWN, LOADING) is made again after a pause that grows with the
// refusals in a row (25 ms to 1 s), on the set's successor, where the map
// then says; other refusals (NOPERM) fail the Subscribe call.
//
// # Observability
//
// Hooks in Config.Pool see every attempt with the address of the node
// that served it (an attempt answered by a redirect ends with that
// error); [Cluster.Stats] counts redirects, retries and refreshes and
// holds each node's pool statistics; [Cluster.Events] reports moved
// slots, nodes added and removed, masters changed, failed refreshes and
// addresses refused.
//
// # Concurrency
//
// A Cluster is safe for concurrent use. Its goroutines — the refresher,
// retry timers, pub/sub watchers, closers of retired nodes — belong to
// one lifecycle: Close stops them and waits, and closes every pool.
//
// # Errors
//
// Commands fail with the outcome vocabulary of package core: ErrNotSent
// (never written: waiting commands when their context ends or the client
// closes), ErrInFlight (written to a connection that then died), or the
// server's reply. The package's own errors are [ErrCrossSlot],
// [ErrWholeCluster], [ErrNoNodes], [*RedirectError], [*GaveUpError]
// (with [ErrRetryTimeout], [ErrMaxRetries], [ErrSlotNotServed]),
// [*SplitError], [ErrBadAddress] and [ErrUnknownNode].
package cluster
