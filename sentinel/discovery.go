package sentinel

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asyncredis/asyncredis/async"
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

// discoverReplicas returns the addresses of name's replicas that the
// sentinels see as up and whose own ROLE says replica with its link to
// master up, master excluded, sorted.
func discoverReplicas(ctx context.Context, q querier, name, master string, mapAddr func(string) string) ([]string, error) {
	ins, err := q.replicas(ctx, name)
	if err != nil {
		return nil, err
	}
	var cands []string
	for _, in := range ins {
		addr := mapAddr(in.Addr())
		if in.Healthy() && in.IsSlave && addr != master {
			cands = append(cands, addr)
		}
	}
	errs := make([]error, len(cands))
	var wg sync.WaitGroup // bounded by ctx: role's own timeout
	for i, addr := range cands {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = verifyReplica(ctx, q, name, addr, master, mapAddr)
		}()
	}
	wg.Wait()
	var out []string
	var refused error
	for i, addr := range cands {
		var rre *ReplicaReplyError
		switch {
		case errs[i] == nil:
			out = append(out, addr)
		case errors.As(errs[i], &rre):
			refused = errs[i]
		}
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

// verifyReplica checks that the node at addr is a replica whose link to
// master is up, by its own ROLE: the sentinels' view of a replica's link
// lags by seconds after a failover, the replica's own does not. With
// master unknown, any master will do.
func verifyReplica(ctx context.Context, q querier, name, addr, master string, mapAddr func(string) string) error {
	role, err := checkRole(ctx, q, name, addr, "slave")
	if err != nil {
		return err
	}
	if role.State != "connected" {
		return notFound(name, true, because(ErrNotUsable, errors.New(addr+" is not linked to its master ("+role.State+")")))
	}
	if linked := mapAddr(net.JoinHostPort(role.MasterHost, strconv.Itoa(role.MasterPort))); master != "" && linked != master {
		return notFound(name, true, because(ErrNotUsable, errors.New(addr+" replicates from "+linked+", not from "+master)))
	}
	return nil
}

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
