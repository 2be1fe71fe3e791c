package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	dnetwork "github.com/docker/docker/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
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
	for {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		err := check(cctx)
		ccancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("integration: gave up after %v: %w", limit, err)
		case <-tick.C:
		}
	}
}

// cluster is the Docker side of one deployment: a private network with a
// fixed subnet, the containers on it, and host folders bound into them.
type cluster struct {
	id     string // value of labelKey on everything created
	image  string
	cli    *testcontainers.DockerClient
	net    *testcontainers.DockerNetwork
	subnet netip.Prefix

	mu      sync.Mutex // guards the fields below
	nodes   []*Node
	nextIP  netip.Addr
	tmpDirs []string
	closed  bool
}

func newCluster(ctx context.Context, img string) (*cluster, error) {
	if err := DockerAvailable(ctx); err != nil {
		return nil, err
	}
	cli, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	if img == "" {
		if img, err = Image(ctx); err != nil {
			return nil, err
		}
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	c := &cluster{id: hex.EncodeToString(b[:]), image: img, cli: cli}
	if err := c.createNetwork(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// createNetwork makes a bridge network whose subnet is set explicitly, so
// that nodes can keep fixed addresses across restarts and reconnects. The
// subnet is one Docker itself picked as free: a throwaway network is
// created, its subnet read, and the real one created with it.
func (c *cluster) createNetwork(ctx context.Context) error {
	labels := map[string]string{labelKey: c.id}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		probe, err := tcnetwork.New(ctx, tcnetwork.WithLabels(labels))
		if err != nil {
			return fmt.Errorf("integration: create network: %w", err)
		}
		ins, err := c.cli.NetworkInspect(ctx, probe.ID, dnetwork.InspectOptions{})
		if rerr := removeNetwork(ctx, probe); rerr != nil {
			return fmt.Errorf("integration: remove probe network: %w", rerr)
		}
		if err != nil {
			return fmt.Errorf("integration: inspect network: %w", err)
		}
		if len(ins.IPAM.Config) == 0 {
			return errors.New("integration: docker gave the network no subnet")
		}
		subnet, err := netip.ParsePrefix(ins.IPAM.Config[0].Subnet)
		if err != nil {
			return fmt.Errorf("integration: network subnet: %w", err)
		}
		nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(labels), tcnetwork.WithIPAM(&dnetwork.IPAM{
			Config: []dnetwork.IPAMConfig{{Subnet: subnet.String()}},
		}))
		if err != nil {
			lastErr = err // another deployment took the subnet in between
			continue
		}
		c.net, c.subnet = nw, subnet.Masked()
		// .1 is the gateway; nodes start at .10.
		c.nextIP = c.subnet.Addr()
		for i := 0; i < 10; i++ {
			c.nextIP = c.nextIP.Next()
		}
		return nil
	}
	return fmt.Errorf("integration: create network: %w", lastErr)
}

// removeNetwork removes a network, retrying briefly: right after its
// containers are removed, Docker may still count them as attached.
func removeNetwork(ctx context.Context, nw *testcontainers.DockerNetwork) error {
	ctx = context.WithoutCancel(ctx)
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = nw.Remove(ctx); err == nil {
			return nil
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
	return err
}

// nodeSpec describes one container to start.
type nodeSpec struct {
	name     string
	kind     Kind
	port     int
	config   string            // contents of /data/redis.conf
	files    map[string][]byte // more files to copy in, by container path
	binds    []string          // host:container bind mounts
	username string
	password string
	ip       string // a given address rather than the next free one
}

func (c *cluster) allocIP() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ip := c.nextIP
	if !c.subnet.Contains(ip) {
		return "", errors.New("integration: subnet exhausted")
	}
	c.nextIP = ip.Next()
	return ip.String(), nil
}

// start creates and starts a node and waits until it answers PING.
func (c *cluster) start(ctx context.Context, spec nodeSpec) (*Node, error) {
	ip := spec.ip
	if ip == "" {
		var err error
		if ip, err = c.allocIP(); err != nil {
			return nil, err
		}
	}
	cmd := []string{"redis-server", "/data/redis.conf"}
	if spec.kind == KindSentinel {
		cmd = append(cmd, "--sentinel")
	}
	files := []testcontainers.ContainerFile{{
		Reader: strings.NewReader(spec.config), ContainerFilePath: "/data/redis.conf", FileMode: 0o666,
	}}
	for p, data := range spec.files {
		files = append(files, testcontainers.ContainerFile{
			Reader: strings.NewReader(string(data)), ContainerFilePath: p, FileMode: 0o644,
		})
	}
	netName := c.net.Name
	req := testcontainers.ContainerRequest{
		Image:          c.image,
		Name:           "asyncredis-" + c.id + "-" + spec.name,
		Cmd:            cmd,
		Labels:         map[string]string{labelKey: c.id},
		Networks:       []string{netName},
		NetworkAliases: map[string][]string{netName: {spec.name}},
		Files:          files,
		EndpointSettingsModifier: func(m map[string]*dnetwork.EndpointSettings) {
			if es := m[netName]; es != nil {
				es.IPAMConfig = &dnetwork.EndpointIPAMConfig{IPv4Address: ip}
			}
		},
	}
	if len(spec.binds) > 0 {
		req.HostConfigModifier = func(hc *container.HostConfig) { hc.Binds = append(hc.Binds, spec.binds...) }
	}
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	n := &Node{Name: spec.name, Kind: spec.kind, IP: ip, Port: spec.port, c: c, username: spec.username, password: spec.password}
	if ctr != nil {
		n.id = ctr.GetContainerID()
		c.mu.Lock()
		c.nodes = append(c.nodes, n) // registered even on failure, so Close removes it
		c.mu.Unlock()
	}
	if err != nil {
		return nil, fmt.Errorf("integration: start %s: %w", spec.name, err)
	}
	if err := n.waitPing(ctx); err != nil {
		return nil, fmt.Errorf("integration: %s did not come up: %w%s", spec.name, err, c.logTail(ctx, n))
	}
	return n, nil
}

// logTail returns the end of a node's log, for error messages.
func (c *cluster) logTail(ctx context.Context, n *Node) string {
	rc, err := c.cli.ContainerLogs(context.WithoutCancel(ctx), n.id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "20"})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var b strings.Builder
	buf := make([]byte, 8192)
	k, _ := rc.Read(buf)
	b.Write(buf[:k])
	return "\n--- log of " + n.Name + " ---\n" + b.String()
}

// tempDir makes a host folder removed on close.
func (c *cluster) tempDir() (string, error) {
	d, err := os.MkdirTemp("", "asyncredis-"+c.id+"-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(d, 0o777); err != nil {
		return "", err
	}
	c.mu.Lock()
	c.tmpDirs = append(c.tmpDirs, d)
	c.mu.Unlock()
	return d, nil
}

// close removes every container, the network and the host folders. It is
// idempotent and keeps going past errors, returning them joined.
func (c *cluster) close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	nodes, dirs := c.nodes, c.tmpDirs
	c.mu.Unlock()

	ctx = context.WithoutCancel(ctx)
	var errs []error
	for _, n := range nodes {
		if n.State() == Paused {
			_ = c.cli.ContainerUnpause(ctx, n.id) // a paused container cannot be removed everywhere
		}
		if err := c.cli.ContainerRemove(ctx, n.id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", n.Name, err))
		}
	}
	if c.net != nil {
		if err := removeNetwork(ctx, c.net); err != nil {
			errs = append(errs, fmt.Errorf("remove network: %w", err))
		}
	}
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("integration: close: %w", err)
	}
	return nil
}

// Leftovers lists the containers and networks still labelled with this
// deployment's ID; after Close both are empty.
func (c *cluster) leftovers(ctx context.Context) (containers, networks int, err error) {
	f := filters.NewArgs(filters.Arg("label", labelKey+"="+c.id))
	cs, err := c.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return 0, 0, err
	}
	ns, err := c.cli.NetworkList(ctx, dnetwork.ListOptions{Filters: f})
	if err != nil {
		return 0, 0, err
	}
	return len(cs), len(ns), nil
}
