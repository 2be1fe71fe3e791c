package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	dnetwork "github.com/docker/docker/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

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
