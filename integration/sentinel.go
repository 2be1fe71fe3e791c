package integration

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// SentinelConfig describes a Sentinel deployment. Zero fields take the
// defaults given on each.
type SentinelConfig struct {
	// MasterName is the monitored service's name; default "mymaster".
	MasterName string
	// Replicas is the number of replicas; default 2.
	Replicas int
	// Sentinels is the number of sentinels; default 3.
	Sentinels int
	// Quorum is the sentinels' quorum; default a majority of Sentinels.
	Quorum int
	// DownAfter is down-after-milliseconds; default 1s.
	DownAfter time.Duration
	// FailoverTimeout is failover-timeout; default 3s.
	FailoverTimeout time.Duration
	// Password, if set, is required by every data node (requirepass, and
	// masterauth for replication); the sentinels are told it.
	Password string
	// SentinelPassword, if set, is required by every sentinel, also from
	// its peers.
	SentinelPassword string
	// TLS adds TLS ports with one fresh test CA: 6380 on data nodes and
	// 26380 on sentinels. The plaintext ports stay, for replication, the
	// sentinels' own connections and the harness; a client reaches the
	// TLS ports by mapping addresses (TLSAddr).
	TLS bool
	// Image overrides the image; default: Image(ctx).
	Image string
}

func (cfg *SentinelConfig) setDefaults() error {
	if cfg.MasterName == "" {
		cfg.MasterName = "mymaster"
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 2
	}
	if cfg.Sentinels == 0 {
		cfg.Sentinels = 3
	}
	if cfg.Quorum == 0 {
		cfg.Quorum = cfg.Sentinels/2 + 1
	}
	if cfg.DownAfter == 0 {
		cfg.DownAfter = time.Second
	}
	if cfg.FailoverTimeout == 0 {
		cfg.FailoverTimeout = 3 * time.Second
	}
	if cfg.Replicas < 0 || cfg.Sentinels < 1 || cfg.Quorum < 1 || cfg.Quorum > cfg.Sentinels {
		return fmt.Errorf("integration: invalid sentinel config: %d replicas, %d sentinels, quorum %d", cfg.Replicas, cfg.Sentinels, cfg.Quorum)
	}
	return nil
}

// Deployment is a running master, its replicas and the sentinels that
// monitor them. Which data node is master changes with failovers; ask
// CurrentMaster.
type Deployment struct {
	Config SentinelConfig // with defaults filled in
	// Master is the node that was master at start.
	Master    *Node
	Replicas  []*Node
	Sentinels []*Node
	// TLSConfig trusts the deployment's CA and carries a client
	// certificate, with ServerName left empty so that each node's IP is
	// checked; nil without TLS. Clone it before changing it.
	TLSConfig *tls.Config

	c   *cluster
	pki *testPKI
}

// sentinelTLSPort is the TLS port of sentinels in a TLS deployment.
const sentinelTLSPort = 26380

// TLSAddr maps a node's plaintext "ip:port" (6379 or 26379, as sentinels
// report them) to its TLS port in a TLS deployment, for a client's
// AddrMapper; other addresses are returned unchanged.
func TLSAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch port {
	case "6379":
		return net.JoinHostPort(host, strconv.Itoa(tlsPort))
	case strconv.Itoa(sentinelPort):
		return net.JoinHostPort(host, strconv.Itoa(sentinelTLSPort))
	}
	return addr
}

// sentinelPort is the port every sentinel listens on.
const sentinelPort = 26379

// StartSentinel starts a deployment and returns only once every replica
// is online and every sentinel sees every replica and every peer sentinel.
func StartSentinel(ctx context.Context, cfg SentinelConfig) (*Deployment, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	c, err := newCluster(ctx, cfg.Image)
	if err != nil {
		return nil, err
	}
	d := &Deployment{Config: cfg, c: c}
	if err := d.start(ctx); err != nil {
		return nil, joinClose(ctx, c, err)
	}
	return d, nil
}

// withTLS adds the TLS port and the deployment's certificates to spec.
func (d *Deployment) withTLS(spec nodeSpec, port int) nodeSpec {
	if d.pki == nil {
		return spec
	}
	spec.files = map[string][]byte{
		"/data/tls/ca.crt": d.pki.caPEM, "/data/tls/redis.crt": d.pki.serverCertPEM, "/data/tls/redis.key": d.pki.serverKeyPEM,
	}
	spec.config += "tls-port " + strconv.Itoa(port) + "\n" +
		"tls-cert-file /data/tls/redis.crt\ntls-key-file /data/tls/redis.key\n" +
		"tls-ca-cert-file /data/tls/ca.crt\ntls-auth-clients optional\n"
	return spec
}

func (d *Deployment) start(ctx context.Context) error {
	cfg := d.Config
	if cfg.TLS {
		// Every node's address goes into the one server certificate, so
		// peek at the addresses the nodes will get, in start order.
		d.c.mu.Lock()
		ip := d.c.nextIP
		d.c.mu.Unlock()
		var ips []string
		for range 1 + cfg.Replicas + cfg.Sentinels {
			ips = append(ips, ip.String())
			ip = ip.Next()
		}
		pki, err := newTestPKI(ips...)
		if err != nil {
			return err
		}
		d.pki = pki
		d.TLSConfig = pki.clientConfig.Clone()
		d.TLSConfig.ServerName = ""
	}
	master, err := d.c.start(ctx, d.withTLS(nodeSpec{name: "master", kind: KindRedis, port: 6379,
		config: dataNodeConfig(cfg.Password), password: cfg.Password}, tlsPort))
	if err != nil {
		return err
	}
	d.Master = master

	d.Replicas = make([]*Node, cfg.Replicas)
	g, gctx := errgroup.WithContext(ctx)
	for i := range d.Replicas {
		g.Go(func() error {
			conf := dataNodeConfig(cfg.Password) + "replicaof " + master.IP + " 6379\n"
			n, err := d.c.start(gctx, d.withTLS(nodeSpec{name: "replica-" + strconv.Itoa(i), kind: KindRedis, port: 6379,
				config: conf, password: cfg.Password}, tlsPort))
			d.Replicas[i] = n
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Sentinels learn replicas from the master's INFO when they first
	// connect; waiting here spares a ten-second INFO period later.
	if err := poll(ctx, 20*time.Second, func(ctx context.Context) error {
		return d.replicasOnline(ctx, master)
	}); err != nil {
		return err
	}

	d.Sentinels = make([]*Node, cfg.Sentinels)
	g, gctx = errgroup.WithContext(ctx)
	for i := range d.Sentinels {
		g.Go(func() error {
			n, err := d.c.start(gctx, d.withTLS(nodeSpec{name: "sentinel-" + strconv.Itoa(i), kind: KindSentinel, port: sentinelPort,
				config: d.sentinelConfig(master.IP), password: cfg.SentinelPassword}, sentinelTLSPort))
			d.Sentinels[i] = n
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return d.WaitSettled(ctx, master)
}

func (d *Deployment) sentinelConfig(masterIP string) string {
	cfg := d.Config
	var b strings.Builder
	fmt.Fprintf(&b, "port %d\nbind * -::*\nprotected-mode no\ndir /data\n", sentinelPort)
	fmt.Fprintf(&b, "sentinel monitor %s %s 6379 %d\n", cfg.MasterName, masterIP, cfg.Quorum)
	fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %d\n", cfg.MasterName, cfg.DownAfter.Milliseconds())
	fmt.Fprintf(&b, "sentinel failover-timeout %s %d\n", cfg.MasterName, cfg.FailoverTimeout.Milliseconds())
	fmt.Fprintf(&b, "sentinel parallel-syncs %s 1\n", cfg.MasterName)
	if cfg.Password != "" {
		fmt.Fprintf(&b, "sentinel auth-pass %s %s\n", cfg.MasterName, cfg.Password)
	}
	if cfg.SentinelPassword != "" {
		fmt.Fprintf(&b, "requirepass %s\nsentinel sentinel-pass %s\n", cfg.SentinelPassword, cfg.SentinelPassword)
	}
	return b.String()
}

// replicasOnline checks that master sees every replica with state=online.
func (d *Deployment) replicasOnline(ctx context.Context, master *Node) error {
	info, err := master.Info(ctx, "replication")
	if err != nil {
		return err
	}
	online := 0
	for k, v := range info {
		if strings.HasPrefix(k, "slave") && strings.Contains(v, "state=online") {
			online++
		}
	}
	if want := len(d.Replicas); online != want {
		return fmt.Errorf("%w: %d of %d replicas online", errNotReady, online, want)
	}
	return nil
}

// WaitSettled waits until master has every other running data node as an
// online replica and every running sentinel names master, sees those
// replicas healthy and sees every other running sentinel. It gives up after
// 60 s: sentinels refresh a replica's INFO only every 10 s, so a node that
// rejoins after a fault can take 20 s to look healthy.
func (d *Deployment) WaitSettled(ctx context.Context, master *Node) error {
	return poll(ctx, 60*time.Second, func(ctx context.Context) error {
		var replicas []string
		for _, n := range d.DataNodes() {
			if n != master && n.State() == Running {
				replicas = append(replicas, n.Addr())
			}
		}
		info, err := master.Info(ctx, "replication")
		if err != nil {
			return err
		}
		for _, addr := range replicas {
			host, _, _ := net.SplitHostPort(addr)
			found := false
			for k, v := range info {
				if strings.HasPrefix(k, "slave") && strings.Contains(v, "ip="+host+",") && strings.Contains(v, "state=online") {
					found = true
				}
			}
			if !found {
				return fmt.Errorf("%w: replica %s not online at %s", errNotReady, addr, master.Name)
			}
		}
		live := d.liveSentinels()
		for _, s := range live {
			addr, err := sentinelMasterAddr(ctx, s, d.Config.MasterName)
			if err != nil {
				return err
			}
			if addr != master.Addr() {
				return fmt.Errorf("%w: %s names master %s, want %s", errNotReady, s.Name, addr, master.Addr())
			}
			v, err := s.Do(ctx, "SENTINEL", "REPLICAS", d.Config.MasterName)
			if err != nil {
				return err
			}
			seen, err := asMapList(v)
			if err != nil {
				return err
			}
			healthy := map[string]bool{}
			for _, r := range seen {
				if r["flags"] == "slave" && r["master-link-status"] == "ok" {
					healthy[net.JoinHostPort(r["ip"], r["port"])] = true
				}
			}
			for _, addr := range replicas {
				if !healthy[addr] {
					return fmt.Errorf("%w: %s does not see replica %s healthy", errNotReady, s.Name, addr)
				}
			}
			v, err = s.Do(ctx, "SENTINEL", "SENTINELS", d.Config.MasterName)
			if err != nil {
				return err
			}
			peers, err := asMapList(v)
			if err != nil {
				return err
			}
			up := 0
			for _, p := range peers {
				if p["flags"] == "sentinel" {
					up++
				}
			}
			if up != len(live)-1 {
				return fmt.Errorf("%w: %s sees %d of %d peer sentinels", errNotReady, s.Name, up, len(live)-1)
			}
		}
		return nil
	})
}

// DataNodes lists the master and replicas as started (roles change with
// failovers).
func (d *Deployment) DataNodes() []*Node {
	return append([]*Node{d.Master}, d.Replicas...)
}

// SentinelAddrs lists every sentinel's "ip:port", in start order.
func (d *Deployment) SentinelAddrs() []string {
	addrs := make([]string, len(d.Sentinels))
	for i, s := range d.Sentinels {
		addrs[i] = s.Addr()
	}
	return addrs
}

// nodeByAddr finds the data node or sentinel with this "ip:port".
func (d *Deployment) nodeByAddr(addr string) *Node {
	for _, n := range append(d.DataNodes(), d.Sentinels...) {
		if n.Addr() == addr {
			return n
		}
	}
	return nil
}

func (d *Deployment) liveSentinels() []*Node {
	var live []*Node
	for _, s := range d.Sentinels {
		if s.State() == Running {
			live = append(live, s)
		}
	}
	return live
}

// errNoSentinel means no sentinel the harness considers running answered.
var errNoSentinel = errors.New("integration: no running sentinel answered")

// CurrentMaster asks the running sentinels in order for the master's
// address and returns the node the first answer names.
func (d *Deployment) CurrentMaster(ctx context.Context) (*Node, error) {
	var errs []error
	for _, s := range d.liveSentinels() {
		addr, err := sentinelMasterAddr(ctx, s, d.Config.MasterName)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if n := d.nodeByAddr(addr); n != nil {
			return n, nil
		}
		return nil, fmt.Errorf("integration: %s names unknown master %s", s.Name, addr)
	}
	return nil, errors.Join(append([]error{errNoSentinel}, errs...)...)
}

// Failover asks the first running sentinel that answers to fail over
// (SENTINEL FAILOVER), without waiting for agreement.
func (d *Deployment) Failover(ctx context.Context) error {
	var errs []error
	for _, s := range d.liveSentinels() {
		if _, err := s.Do(ctx, "SENTINEL", "FAILOVER", d.Config.MasterName); err != nil {
			errs = append(errs, err)
			continue
		}
		return nil
	}
	return errors.Join(append([]error{errNoSentinel}, errs...)...)
}

// WaitForNewMaster waits (at most limit) until every running sentinel
// names the same master, other than oldAddr, and that node's ROLE says
// master. It returns that node.
func (d *Deployment) WaitForNewMaster(ctx context.Context, oldAddr string, limit time.Duration) (*Node, error) {
	var agreed *Node
	err := poll(ctx, limit, func(ctx context.Context) error {
		live := d.liveSentinels()
		if len(live) == 0 {
			return errNoSentinel
		}
		var first string
		for _, s := range live {
			addr, err := sentinelMasterAddr(ctx, s, d.Config.MasterName)
			if err != nil {
				return err
			}
			if addr == oldAddr {
				return fmt.Errorf("%w: %s still names %s", errNotReady, s.Name, oldAddr)
			}
			if first == "" {
				first = addr
			} else if addr != first {
				return fmt.Errorf("%w: sentinels disagree: %s vs %s", errNotReady, first, addr)
			}
		}
		n := d.nodeByAddr(first)
		if n == nil {
			return fmt.Errorf("integration: sentinels name unknown master %s", first)
		}
		role, err := n.Role(ctx)
		if err != nil {
			return err
		}
		if role != "master" {
			return fmt.Errorf("%w: %s has role %s", errNotReady, n.Name, role)
		}
		agreed = n
		return nil
	})
	return agreed, err
}

// SentinelView returns what sentinel s reports about its peers (SENTINEL
// SENTINELS), keyed by "ip:port", each a map of the reported fields.
func (d *Deployment) SentinelView(ctx context.Context, s *Node) (map[string]map[string]string, error) {
	v, err := s.Do(ctx, "SENTINEL", "SENTINELS", d.Config.MasterName)
	if err != nil {
		return nil, err
	}
	peers, err := asMapList(v)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string]string, len(peers))
	for _, p := range peers {
		out[net.JoinHostPort(p["ip"], p["port"])] = p
	}
	return out, nil
}

func sentinelMasterAddr(ctx context.Context, s *Node, name string) (string, error) {
	v, err := s.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
	if err != nil {
		return "", err
	}
	arr, ok := v.([]any)
	if !ok || len(arr) != 2 {
		return "", fmt.Errorf("integration: %s: unexpected get-master-addr-by-name reply %v", s.Name, v)
	}
	host, _ := arr[0].(string)
	port, _ := arr[1].(string)
	return net.JoinHostPort(host, port), nil
}

// Close removes every container, the network and host folders. Idempotent.
func (d *Deployment) Close(ctx context.Context) error { return d.c.close(ctx) }

// Leftovers counts this deployment's containers and networks that still
// exist; both are zero after Close.
func (d *Deployment) Leftovers(ctx context.Context) (containers, networks int, err error) {
	return d.c.leftovers(ctx)
}

// StartSentinelT starts a deployment for a test and removes it when the
// test ends, failed or not. It skips the test without Docker (fails it
// when CI=true).
func StartSentinelT(tb testing.TB, cfg SentinelConfig) *Deployment {
	tb.Helper()
	RequireDocker(tb)
	ctx := context.Background()
	d, err := StartSentinel(ctx, cfg)
	if err != nil {
		tb.Fatalf("start sentinel deployment: %v", err)
	}
	tb.Cleanup(func() {
		if err := d.Close(ctx); err != nil {
			tb.Errorf("%v", err)
		}
	})
	return d
}
