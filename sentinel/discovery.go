package sentinel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
)

// querier is what discovery asks of the network: the sentinels' views of
// a master and its replicas, and a data node's own ROLE. The sentinel set
// implements it; tests give discovery scripted answers.
type querier interface {
	// masters asks every known sentinel for name's master; the channel
	// gets one answer per sentinel (it is buffered and never closed).
	masters(ctx context.Context, name string) <-chan masterAnswer
	// replicas returns the first sentinel's list of name's replicas.
	replicas(ctx context.Context, name string) ([]Instance, error)
	// role returns what ROLE says on the data node at addr.
	role(ctx context.Context, addr string) (async.Role, error)
	// linkDown returns how long the replica at addr has been without its
	// master, by its own INFO replication.
	linkDown(ctx context.Context, addr string) (time.Duration, error)
	// known lists the sentinels masters asks, and promote moves the one
	// that answered first to the front.
	known() []string
	promote(addr string)
}

type masterAnswer struct {
	sentinel string
	in       Instance
	err      error
}

// epochGrace is how long discovery waits, after the first sentinel
// answers, for others with a newer config epoch.
const epochGrace = 20 * time.Millisecond

// askMaster returns the master with the highest config epoch among the
// sentinels that answer within epochGrace of the first, so that one
// lagging sentinel cannot lead the client back to a demoted master.
func askMaster(ctx context.Context, q querier, name string) (Instance, error) {
	n := len(q.known())
	ch := q.masters(ctx, name)
	errs := map[string]error{}
	var best Instance
	found := false
	var grace <-chan time.Time
	for range n {
		var a masterAnswer
		select {
		case a = <-ch:
		case <-grace:
			return best, nil
		case <-ctx.Done():
			return Instance{}, ctx.Err()
		}
		if a.err != nil {
			errs[a.sentinel] = a.err
			continue
		}
		if !found {
			q.promote(a.sentinel)
			t := time.NewTimer(epochGrace)
			defer t.Stop()
			grace = t.C
		}
		if !found || a.in.ConfigEpoch > best.ConfigEpoch {
			best, found = a.in, true
		}
	}
	if found {
		return best, nil
	}
	if err := ctx.Err(); err != nil {
		return Instance{}, err
	}
	return Instance{}, classify(name, false, errs)
}

// discoverMaster finds name's master and verifies it with ROLE; it returns
// what the sentinels reported and the (mapped) address.
func discoverMaster(ctx context.Context, q querier, name string, mapAddr func(string) string) (Instance, string, error) {
	in, err := askMaster(ctx, q, name)
	if err != nil {
		return Instance{}, "", err
	}
	addr := mapAddr(in.Addr())
	return in, addr, verifyRole(ctx, q, name, addr, "master")
}

// replicaRule is what makes a replica usable for a service.
type replicaRule struct {
	master    string   // the current master; "" while unknown (then any will do)
	promoting []string // replicas a failover is promoting: their replicas are the service's too
	inUse     []string // the replicas read from now
	mapAddr   func(string) string
	maxStale  time.Duration     // MaxReplicaStaleness
	spawn     func(func()) bool // starts the checks on the pool's lifecycle; nil: go
}

// discoverReplicas returns the addresses of name's replicas that their
// own ROLE finds usable (verifyReplica), master excluded, sorted. The
// candidates are the replicas the sentinels list as up and connected,
// and those in use: right after a switch the sentinels list the new
// master's replicas as disconnected until they have reached them again,
// a second or more, while the replicas themselves answer. (A node the
// sentinels cannot reach and we do not use is left for later: checking
// it could take the whole timeout when it is gone, and the result waits
// for every check.)
// slowGrace is how long the replica checks still running may take once
// one replica has passed: a replica that does not answer ROLE by then
// (a host cut off answers nothing until the check's own timeout) is left
// out until the next discovery rather than holding back the others.
const slowGrace = 25 * time.Millisecond

// errSlow marks a check still running after slowGrace.
var errSlow = errors.New("sentinel: replica check still running")

// verifyAll runs check on every address at once, on goroutines started
// by spawn (nil: go), and returns each one's error, errSlow for those
// still running slowGrace after the first pass. The checks left running
// end by their own timeout.
func verifyAll(ctx context.Context, addrs []string, spawn func(func()) bool, check func(context.Context, string) error) []error {
	type result struct {
		i   int
		err error
	}
	results := make(chan result, len(addrs)) // room for the late ones
	for i, addr := range addrs {
		fn := func() { results <- result{i, check(ctx, addr)} }
		if spawn == nil {
			go fn()
		} else if !spawn(fn) {
			results <- result{i, ErrClosed}
		}
	}
	errs := make([]error, len(addrs))
	for i := range errs {
		errs[i] = errSlow
	}
	var grace <-chan time.Time
	for range addrs {
		select {
		case r := <-results:
			errs[r.i] = r.err
			if r.err == nil && grace == nil {
				t := time.NewTimer(slowGrace)
				defer t.Stop()
				grace = t.C
			}
		case <-grace:
			return errs
		}
	}
	return errs
}

func discoverReplicas(ctx context.Context, q querier, name string, rule replicaRule) ([]string, error) {
	ins, err := q.replicas(ctx, name)
	if err != nil {
		return nil, err
	}
	var cands []string
	for _, in := range ins {
		addr := rule.mapAddr(in.Addr())
		if in.Healthy() && in.IsSlave && addr != rule.master && !slices.Contains(cands, addr) {
			cands = append(cands, addr)
		}
	}
	for _, addr := range rule.inUse {
		if addr != rule.master && !slices.Contains(cands, addr) {
			cands = append(cands, addr)
		}
	}
	errs := verifyAll(ctx, cands, rule.spawn, func(ctx context.Context, addr string) error { return verifyReplica(ctx, q, name, addr, rule) })
	var out, syncing []string
	var refused error
	for i, addr := range cands {
		if errs[i] == errSlow {
			continue
		}
		var rre *ReplicaReplyError
		var se *syncingError
		switch {
		case errs[i] == nil:
			out = append(out, addr)
		case errors.As(errs[i], &se):
			syncing = append(syncing, addr)
		case errors.As(errs[i], &rre):
			refused = errs[i]
		}
	}
	if len(out) == 0 {
		// Only replicas receiving a full copy: they serve their old data
		// until they load the new one (replica-serve-stale-data), a last
		// resort rather than no replica at all (after a failover, the one
		// replica left may have to resync from scratch).
		out = syncing
	}
	if len(out) == 0 && refused != nil {
		return nil, refused // say why (a wrong password), not just "none usable"
	}
	slices.Sort(out)
	return out, nil
}

// verifyRole checks that ROLE on addr says want ("master" or "slave").
func verifyRole(ctx context.Context, q querier, name, addr, want string) error {
	_, err := checkRole(ctx, q, name, addr, want)
	return err
}

func checkRole(ctx context.Context, q querier, name, addr, want string) (async.Role, error) {
	replica := want != "master"
	role, err := q.role(ctx, addr)
	var ce *pool.ConnError
	if errors.As(err, &ce) && ctx.Err() == nil {
		// The connection was lost under the check: a failover's CLIENT
		// KILL on a reconfigured node. Ask once more, on a new one.
		role, err = q.role(ctx, addr)
	}
	if err != nil {
		var re *protocol.RedisError
		if errors.As(err, &re) {
			return role, replyError(name, addr, replica, err)
		}
		return role, notFound(name, replica, because(ErrNotUsable, err))
	}
	if role.Role != want {
		return role, notFound(name, replica, because(ErrNotUsable, errors.New(addr+" has role "+role.Role)))
	}
	return role, nil
}

// verifyReplica checks, by the node's own ROLE (the sentinels' view of a
// replica's link lags by seconds after a failover, the replica's own does
// not), that the node at addr is a replica that may serve reads:
//
//   - linked to the master (any master while it is unknown), or to a
//     replica the failover under way is promoting: yes;
//   - linked to another master: no, it follows another timeline;
//   - receiving a full copy from its master ("sync"): only when no other
//     replica is usable (it serves its old data until it loads the new
//     one, and answers LOADING while it does);
//   - its link down (the master dead, or the failover reconfiguring it):
//     yes, with the data it has, as Redis serves it, unless maxStale is
//     set and the link has been down longer.
func verifyReplica(ctx context.Context, q querier, name, addr string, rule replicaRule) error {
	role, err := checkRole(ctx, q, name, addr, "slave")
	if err != nil {
		return err
	}
	unusable := func(why string) error { return notFound(name, true, because(ErrNotUsable, errors.New(addr+" "+why))) }
	switch role.State {
	case "connected":
		linked := rule.mapAddr(net.JoinHostPort(role.MasterHost, strconv.Itoa(role.MasterPort)))
		if rule.master != "" && linked != rule.master && !slices.Contains(rule.promoting, linked) {
			return unusable("replicates from " + linked + ", not from " + rule.master)
		}
		return nil
	case "sync":
		return &syncingError{unusable("is receiving a full copy from its master")}
	}
	if rule.maxStale <= 0 {
		return nil
	}
	down, err := q.linkDown(ctx, addr)
	if err != nil {
		return unusable("did not say how long its link has been down: " + err.Error())
	}
	if down > rule.maxStale {
		return unusable(fmt.Sprintf("has been without its master for %v, longer than MaxReplicaStaleness %v", down, rule.maxStale))
	}
	return nil
}

// syncingError marks a replica receiving a full copy from its master:
// usable only when no other replica is.
type syncingError struct{ error }

func (e *syncingError) Unwrap() error { return e.error }

func notFound(name string, replica bool, err error) error {
	if replica {
		return &ReplicaNotFoundError{Name: name, Err: err}
	}
	return &MasterNotFoundError{Name: name, Err: err}
}

func replyError(name, addr string, replica bool, err error) error {
	if replica {
		return &ReplicaReplyError{Name: name, Addr: addr, Err: err}
	}
	return &MasterReplyError{Name: name, Addr: addr, Err: err}
}

// classify turns the failures of every sentinel into one typed error:
// a name no sentinel knows, a sentinel refusing us, or none reachable.
func classify(name string, replica bool, errs map[string]error) error {
	var unknown, refused error
	var refusedBy string
	for addr, err := range errs {
		var re *protocol.RedisError
		switch {
		case errors.Is(err, ErrUnknownName):
			unknown = err
		case errors.As(err, &re):
			refused, refusedBy = err, addr
		}
	}
	cause := joinSentinels(errs)
	switch {
	case unknown != nil:
		return notFound(name, replica, because(ErrUnknownName, cause))
	case refused != nil:
		return replyError(name, refusedBy, replica, refused)
	}
	return notFound(name, replica, because(ErrNoSentinel, cause))
}

// unknownName recognises a sentinel's answer for a name it does not monitor.
func unknownName(err error) error {
	var re *protocol.RedisError
	if errors.As(err, &re) && strings.Contains(strings.ToLower(re.Msg), "no such master") {
		return because(ErrUnknownName, err)
	}
	return err
}
