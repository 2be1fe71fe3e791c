package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// RedisConfig describes a standalone Redis. The zero value is a plain
// server without authentication on port 6379.
type RedisConfig struct {
	// Password, if set, is required from the default user (requirepass).
	Password string
	// Username and UserPassword, if both set, add an ACL user with every
	// permission. The harness itself authenticates as this user.
	Username     string
	UserPassword string
	// TLS adds a TLS port (6380) with a fresh test CA; clients may present
	// the harness' client certificate but need not.
	TLS bool
	// UnixSocket adds a unix socket in a host folder bound into the container.
	UnixSocket bool
	// Image overrides the image; default: Image(ctx).
	Image string
}

// Redis is a running standalone server.
type Redis struct {
	*Node
	// TLSAddr is "ip:6380" when TLS is on, else empty.
	TLSAddr string
	// TLSConfig trusts the server's CA and carries a client certificate;
	// nil when TLS is off. Clone it before changing it.
	TLSConfig *tls.Config
	// SocketPath is the host path of the unix socket, if asked for.
	SocketPath string

	c *cluster
}

// tlsPort is the TLS port of a standalone Redis started with TLS.
const tlsPort = 6380

// StartRedis starts a standalone Redis on a private network and returns
// once it answers PING. Close removes it.
func StartRedis(ctx context.Context, cfg RedisConfig) (*Redis, error) {
	c, err := newCluster(ctx, cfg.Image)
	if err != nil {
		return nil, err
	}
	r, err := startRedis(ctx, c, cfg)
	if err != nil {
		return nil, joinClose(ctx, c, err)
	}
	return r, nil
}

func startRedis(ctx context.Context, c *cluster, cfg RedisConfig) (*Redis, error) {
	conf := dataNodeConfig(cfg.Password)
	spec := nodeSpec{name: "redis", kind: KindRedis, port: 6379, files: map[string][]byte{}}
	if cfg.Username != "" && cfg.UserPassword != "" {
		conf += fmt.Sprintf("user %s on >%s ~* &* +@all\n", cfg.Username, cfg.UserPassword)
		spec.username, spec.password = cfg.Username, cfg.UserPassword
	} else {
		spec.password = cfg.Password
	}
	r := &Redis{c: c}
	if cfg.TLS {
		// The address is needed for the certificate before the node exists,
		// so peek at the one the node will get.
		c.mu.Lock()
		ip := c.nextIP.String()
		c.mu.Unlock()
		pki, err := newTestPKI(ip)
		if err != nil {
			return nil, err
		}
		spec.files["/data/tls/ca.crt"] = pki.caPEM
		spec.files["/data/tls/redis.crt"] = pki.serverCertPEM
		spec.files["/data/tls/redis.key"] = pki.serverKeyPEM
		conf += "tls-port " + strconv.Itoa(tlsPort) + "\n" +
			"tls-cert-file /data/tls/redis.crt\ntls-key-file /data/tls/redis.key\n" +
			"tls-ca-cert-file /data/tls/ca.crt\ntls-auth-clients optional\n"
		r.TLSConfig = pki.clientConfig
	}
	if cfg.UnixSocket {
		dir, err := c.tempDir()
		if err != nil {
			return nil, err
		}
		spec.binds = []string{dir + ":/run/redis"}
		conf += "unixsocket /run/redis/redis.sock\nunixsocketperm 777\n"
		r.SocketPath = filepath.Join(dir, "redis.sock")
	}
	spec.config = conf
	n, err := c.start(ctx, spec)
	if err != nil {
		return nil, err
	}
	r.Node = n
	if cfg.TLS {
		r.TLSAddr = net.JoinHostPort(n.IP, strconv.Itoa(tlsPort))
	}
	return r, nil
}

// Close removes the container, its network and host folders. Idempotent.
func (r *Redis) Close(ctx context.Context) error { return r.c.close(ctx) }

// Leftovers counts the containers and networks of this server that still
// exist; both are zero after Close.
func (r *Redis) Leftovers(ctx context.Context) (containers, networks int, err error) {
	return r.c.leftovers(ctx)
}

// StartRedisT starts a standalone Redis for a test and removes it when
// the test ends, failed or not. It skips the test without Docker (fails
// it when CI=true).
func StartRedisT(tb testing.TB, cfg RedisConfig) *Redis {
	tb.Helper()
	RequireDocker(tb)
	ctx := context.Background()
	r, err := StartRedis(ctx, cfg)
	if err != nil {
		tb.Fatalf("start redis: %v", err)
	}
	tb.Cleanup(func() {
		if err := r.Close(ctx); err != nil {
			tb.Errorf("%v", err)
		}
	})
	return r
}

// dataNodeConfig is the redis.conf shared by every data node: no
// persistence, fast diskless replication, reachable from the network.
func dataNodeConfig(password string) string {
	var b strings.Builder
	b.WriteString("port 6379\nbind * -::*\nprotected-mode no\ndir /data\n")
	b.WriteString("save \"\"\nappendonly no\nenable-debug-command yes\n")
	b.WriteString("repl-diskless-sync yes\nrepl-diskless-sync-delay 0\nrepl-diskless-load disabled\n")
	if password != "" {
		fmt.Fprintf(&b, "requirepass %s\nmasterauth %s\n", password, password)
	}
	return b.String()
}

func joinClose(ctx context.Context, c *cluster, err error) error {
	if cerr := c.close(ctx); cerr != nil {
		return fmt.Errorf("%w (and %v)", err, cerr)
	}
	return err
}
