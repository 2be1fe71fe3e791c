package sentinel

import (
	"context"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/managedpool"
	"github.com/asyncredis/asyncredis/protocol"
)

// ReadPolicy says where a client from ClientFor sends read-only commands
// (core.ReadPolicy, shared with the cluster client).
type ReadPolicy = core.ReadPolicy

const (
	// ReadMaster sends every command to the master (as MasterFor).
	ReadMaster = core.ReadMaster
	// ReadReplica sends read-only commands to the replicas only; they wait
	// for a replica (or fail with *ReplicaNotFoundError) when none is
	// usable, as ReplicaFor's do.
	ReadReplica = core.ReadReplica
	// ReadReplicaPreferred sends read-only commands to the replicas while
	// one is usable, else to the master.
	ReadReplicaPreferred = core.ReadReplicaPreferred
	// ReadNearest sends read-only commands to the node, master or replica,
	// with the lowest round trip measured by the pool's ROLE checks (an
	// average, refreshed every Config.RecheckInterval).
	ReadNearest = core.ReadNearest
)

// ClientFor returns one client for name that splits reads from writes:
// read-only commands (by a table of Redis' read-only commands; Do and Cmd
// included) go where reads says, everything else, and everything inside a
// pipeline or transaction, to the master. It does not block, and follows
// failovers as MasterFor and ReplicaFor do.
//
// Reads from replicas are not ordered with the writes before them: a GET
// on a replica may not see the SET the same client just made on the
// master (replication is asynchronous). Use ReadMaster, or MasterFor,
// where that matters.
func (p *SentinelPool) ClientFor(name string, reads ReadPolicy) *async.Client {
	var c *async.Client
	if !p.call(func() {
		s := p.serviceFor(name)
		r := &router{master: s.master, replicas: s.replicas, reads: reads}
		if reads == ReadNearest {
			r.replicas = p.nearestPool(s)
		}
		c = async.NewClient(r)
	}) {
		return async.NewClient(closedExecutor{})
	}
	return c
}

// router is the executor of ClientFor's clients.
type router struct {
	master, replicas *managedpool.Pool
	reads            ReadPolicy
}

// Exec implements core.Executor.
func (r *router) Exec(ctx context.Context, cmd *core.Command, sink core.Sink) {
	r.pick(cmd).Exec(ctx, cmd, sink)
}

func (r *router) pick(cmd *core.Command) *managedpool.Pool {
	if r.reads == ReadMaster || !core.ReadOnly(cmd.Name()) {
		return r.master
	}
	if (r.reads == ReadReplicaPreferred || r.reads == ReadNearest) && len(r.replicas.Addrs()) == 0 {
		return r.master
	}
	return r.replicas // for ReadNearest, the pool of the nearest node
}

// ExecBatch sends a pipeline to the master (core.BatchExecutor).
func (r *router) ExecBatch(ctx context.Context, cmds []*core.Command, sinks []core.Sink) {
	r.master.ExecBatch(ctx, cmds, sinks)
}

// AcquireExecutor lends a master connection, for transactions
// (core.Acquirer).
func (r *router) AcquireExecutor(ctx context.Context) (core.Executor, func(discard bool), error) {
	return r.master.AcquireExecutor(ctx)
}

// Subscriber opens pub/sub on the master (core.SubscriberSource).
func (r *router) Subscriber(ctx context.Context, onPush func(protocol.Value)) (core.SubConn, error) {
	return r.master.Subscriber(ctx, onPush)
}

// TargetChanged says when the master changes (core.TargetWatcher).
func (r *router) TargetChanged() <-chan struct{} { return r.master.TargetChanged() }
