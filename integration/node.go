package integration

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	dnetwork "github.com/docker/docker/api/types/network"
)

// labelKey labels every container and network the harness creates; its
// value identifies one deployment.
const labelKey = "io.asyncredis.harness"

// Kind says what a node runs.
type Kind int

const (
	// KindRedis is a redis-server data node (master or replica).
	KindRedis Kind = iota
	// KindSentinel is a redis-server in sentinel mode.
	KindSentinel
)

// State is what the harness last did to a node.
type State int

const (
	Running State = iota
	Killed
	Paused
	Disconnected
)

func (s State) String() string {
	return [...]string{"running", "killed", "paused", "disconnected"}[s]
}

// Node is one container of a deployment. Its IP stays the same across
// kills, restarts and network disconnects; only MoveTo changes it.
type Node struct {
	Name string // unique within the deployment, e.g. "replica-1"
	Kind Kind
	IP   string
	Port int

	c        *cluster
	id       string // container ID
	username string // credentials the harness uses to talk to the node
	password string
	mu       sync.Mutex // guards state
	state    State
}

// Addr is the node's "ip:port", reachable from the host.
func (n *Node) Addr() string { return net.JoinHostPort(n.IP, strconv.Itoa(n.Port)) }

// State reports what the harness last did to the node.
func (n *Node) State() State {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}

func (n *Node) setState(s State) {
	n.mu.Lock()
	n.state = s
	n.mu.Unlock()
}

// Do sends one command to the node on a fresh connection, authenticated as
// the deployment's configured user, and returns the reply: string, int64,
// []any or nil; an error reply is a *ServerError.
func (n *Node) Do(ctx context.Context, args ...string) (any, error) {
	rc, err := dialRESP(ctx, n.Addr(), nil, n.username, n.password)
	if err != nil {
		return nil, fmt.Errorf("integration: %s: %w", n.Name, err)
	}
	defer rc.Close()
	v, err := rc.do(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("integration: %s %s: %w", n.Name, args[0], err)
	}
	return v, nil
}

// Role returns the first element of ROLE: "master", "slave" or "sentinel".
func (n *Node) Role(ctx context.Context) (string, error) {
	v, err := n.Do(ctx, "ROLE")
	if err != nil {
		return "", err
	}
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return "", fmt.Errorf("integration: %s: unexpected ROLE reply %v", n.Name, v)
	}
	role, _ := arr[0].(string)
	return role, nil
}

// Info returns the node's INFO section as key/value pairs.
func (n *Node) Info(ctx context.Context, section string) (map[string]string, error) {
	v, err := n.Do(ctx, "INFO", section)
	if err != nil {
		return nil, err
	}
	s, _ := v.(string)
	return parseInfo(s), nil
}

// Kill stops the node's process at once with SIGKILL, as a crash would.
func (n *Node) Kill(ctx context.Context) error {
	if err := n.c.cli.ContainerKill(ctx, n.id, "KILL"); err != nil {
		return fmt.Errorf("integration: kill %s: %w", n.Name, err)
	}
	n.setState(Killed)
	return nil
}

// Crash kills the node's process as Kill does, then puts another
// container at its address (Docker derives the hardware address from
// it, so neighbours' ARP caches reach the new one at once), with nothing
// listening on the node's port: new connections are refused and packets on old ones are
// answered with resets, as when a process dies on a host that stays up.
// (After Kill alone the address vanishes, as when the whole host is
// gone: packets to it go unanswered.) Crash returns when the node was
// killed; the node cannot be started again.
func (n *Node) Crash(ctx context.Context) (time.Time, error) {
	if err := n.Kill(ctx); err != nil {
		return time.Time{}, err
	}
	killed := time.Now()
	_, err := n.c.start(ctx, nodeSpec{
		name: n.Name + "-gone", kind: KindRedis, ip: n.IP,
		port: n.Port + 1, config: fmt.Sprintf("port %d\nprotected-mode no\nsave \"\"\nappendonly no\n", n.Port+1),
	})
	return killed, err
}

// Start starts a killed node again and waits until it answers PING. Its
// data is gone (persistence is off), as after a real crash.
func (n *Node) Start(ctx context.Context) error {
	if err := n.c.cli.ContainerStart(ctx, n.id, container.StartOptions{}); err != nil {
		return fmt.Errorf("integration: start %s: %w", n.Name, err)
	}
	n.setState(Running)
	return n.waitPing(ctx)
}

// Restart stops the node gracefully (one second, then SIGKILL), starts it
// again and waits until it answers PING.
func (n *Node) Restart(ctx context.Context) error {
	timeout := 1
	if err := n.c.cli.ContainerRestart(ctx, n.id, container.StopOptions{Timeout: &timeout}); err != nil {
		return fmt.Errorf("integration: restart %s: %w", n.Name, err)
	}
	n.setState(Running)
	return n.waitPing(ctx)
}

// Pause freezes the node's processes (docker pause): its sockets stay open
// but nothing answers, as with a hung server.
func (n *Node) Pause(ctx context.Context) error {
	if err := n.c.cli.ContainerPause(ctx, n.id); err != nil {
		return fmt.Errorf("integration: pause %s: %w", n.Name, err)
	}
	n.setState(Paused)
	return nil
}

// Unpause lets a paused node run again.
func (n *Node) Unpause(ctx context.Context) error {
	if err := n.c.cli.ContainerUnpause(ctx, n.id); err != nil {
		return fmt.Errorf("integration: unpause %s: %w", n.Name, err)
	}
	n.setState(Running)
	return nil
}

// Disconnect cuts the node off the deployment's network: the process runs
// on, but no packet reaches it or leaves it.
func (n *Node) Disconnect(ctx context.Context) error {
	if err := n.c.cli.NetworkDisconnect(ctx, n.c.net.ID, n.id, true); err != nil {
		return fmt.Errorf("integration: disconnect %s: %w", n.Name, err)
	}
	n.setState(Disconnected)
	return nil
}

// Reconnect attaches a disconnected node to the network again, at its old
// IP address.
func (n *Node) Reconnect(ctx context.Context) error {
	es := &dnetwork.EndpointSettings{
		IPAMConfig: &dnetwork.EndpointIPAMConfig{IPv4Address: n.IP},
		Aliases:    []string{n.Name},
	}
	if err := n.c.cli.NetworkConnect(ctx, n.c.net.ID, n.id, es); err != nil {
		return fmt.Errorf("integration: reconnect %s: %w", n.Name, err)
	}
	n.setState(Running)
	return nil
}

// MoveTo gives the node a new IP address on the deployment's network, as
// a host restarted elsewhere would get: it is cut off, then attached
// again at ip (unused, in the network's subnet); the process runs on.
// A cluster node announces the new address once told (CONFIG SET
// cluster-announce-ip).
func (n *Node) MoveTo(ctx context.Context, ip string) error {
	if n.State() != Disconnected {
		if err := n.Disconnect(ctx); err != nil {
			return err
		}
	}
	n.IP = ip // not while another goroutine reads Addr
	return n.Reconnect(ctx)
}

// waitPing polls PING until the node answers, for at most 15 seconds.
func (n *Node) waitPing(ctx context.Context) error {
	return poll(ctx, 15*time.Second, func(ctx context.Context) error {
		v, err := n.Do(ctx, "PING")
		if err != nil {
			return err
		}
		if v != "PONG" {
			return fmt.Errorf("%w: PING replied %v", errNotReady, v)
		}
		return nil
	})
}

// poll calls check every 25 ms until it returns nil, ctx ends or limit
// passes; the last error from check is returned on time-out.
func poll(ctx context.Context, limit time.Duration, check func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var last error // the last error not caused by the limit's end
	for {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		err := check(cctx)
		ccancel()
		if err == nil {
			return nil
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("integration: gave up after %v: %w", limit, last)
		case <-tick.C:
		}
	}
}
