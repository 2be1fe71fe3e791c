package sentinel

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/asyncredis/asyncredis/async/core"
)

var (
	// ErrNoSentinel: no sentinel could be reached.
	ErrNoSentinel = errors.New("sentinel: no sentinel reachable")
	// ErrUnknownName: sentinels answered, but none monitors this name.
	ErrUnknownName = errors.New("sentinel: no sentinel knows this name")
	// ErrNotUsable: a sentinel named the node, but it is down or its ROLE
	// is not the one asked for.
	ErrNotUsable = errors.New("sentinel: node found but not usable")
	// ErrFailoverInProgress: a failover of the master has started, and
	// writes to it are fenced until it ends (FailFast commands fail with
	// a *MasterNotFoundError wrapping it meanwhile).
	ErrFailoverInProgress = errors.New("sentinel: failover in progress")
	// ErrClosed: the SentinelPool is closed. It is core.ErrClosed, the one
	// every package returns after Close.
	ErrClosed = core.ErrClosed
)

// MasterNotFoundError says no usable master is known for Name. Err is one
// of ErrNoSentinel, ErrUnknownName or ErrNotUsable, wrapping the cause.
type MasterNotFoundError struct {
	Name string
	Err  error
}

func (e *MasterNotFoundError) Error() string {
	return fmt.Sprintf("sentinel: master %q not found: %v", e.Name, e.Err)
}

// Unwrap returns the reason.
func (e *MasterNotFoundError) Unwrap() error { return e.Err }

// ReplicaNotFoundError says no usable replica is known for Name. Err is
// one of ErrNoSentinel, ErrUnknownName or ErrNotUsable, wrapping the cause.
type ReplicaNotFoundError struct {
	Name string
	Err  error
}

func (e *ReplicaNotFoundError) Error() string {
	return fmt.Sprintf("sentinel: no replica of %q found: %v", e.Name, e.Err)
}

// Unwrap returns the reason.
func (e *ReplicaNotFoundError) Unwrap() error { return e.Err }

// MasterReplyError reports a server error (authentication, ACL, ...) from
// a sentinel or the master during master discovery.
type MasterReplyError struct {
	Name string
	Addr string
	Err  error
}

func (e *MasterReplyError) Error() string {
	return fmt.Sprintf("sentinel: discovering master %q: %s replied: %v", e.Name, e.Addr, e.Err)
}

// Unwrap returns the server's error.
func (e *MasterReplyError) Unwrap() error { return e.Err }

// ReplicaReplyError is MasterReplyError for replica discovery.
type ReplicaReplyError struct {
	Name string
	Addr string
	Err  error
}

func (e *ReplicaReplyError) Error() string {
	return fmt.Sprintf("sentinel: discovering replicas of %q: %s replied: %v", e.Name, e.Addr, e.Err)
}

// Unwrap returns the server's error.
func (e *ReplicaReplyError) Unwrap() error { return e.Err }

// SlaveNotFoundError is ReplicaNotFoundError under the name redis-py and
// aioredis use.
type SlaveNotFoundError = ReplicaNotFoundError

// SlaveReplyError is ReplicaReplyError under its older name.
type SlaveReplyError = ReplicaReplyError

// reasons is with a reason to keep the cause of each sentinel.
type reasons struct {
	kind  error
	cause error
}

func (r *reasons) Error() string {
	if r.cause == nil {
		return r.kind.Error()
	}
	return r.kind.Error() + ": " + r.cause.Error()
}

func (r *reasons) Unwrap() []error { return []error{r.kind, r.cause} }

func because(kind, cause error) error { return &reasons{kind: kind, cause: cause} }

// perSentinel is the failures of several sentinels, one line: each as
// "addr: error", joined with "; ". Each stays reachable with errors.As.
type perSentinel []error

func (e perSentinel) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

func (e perSentinel) Unwrap() []error { return e }

// atSentinel is one sentinel's failure, prefixed with its address.
type atSentinel struct {
	addr string
	err  error
}

func (e *atSentinel) Error() string { return e.addr + ": " + e.err.Error() }
func (e *atSentinel) Unwrap() error { return e.err }

// joinSentinels returns the failures by address as one error, sorted by
// address; nil for none.
func joinSentinels(errs map[string]error) error {
	if len(errs) == 0 {
		return nil
	}
	addrs := slices.Sorted(maps.Keys(errs))
	out := make(perSentinel, len(addrs))
	for i, a := range addrs {
		out[i] = &atSentinel{addr: a, err: errs[a]}
	}
	return out
}
