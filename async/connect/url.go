package connect

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/pool/cluster"
	"github.com/asyncredis/asyncredis/sentinel"
)

// Kind is the deployment a URL names.
type Kind int

// The deployments.
const (
	KindStandalone Kind = iota // one server (or a proxy in front of several)
	KindSentinel               // a master found through sentinels
	KindCluster                // a Redis Cluster
)

func (k Kind) String() string {
	switch k {
	case KindSentinel:
		return "sentinel"
	case KindCluster:
		return "cluster"
	}
	return "standalone"
}

// Options is what a URL says: the deployment and the configuration of
// the package that serves it. Fill in what a URL cannot say (hooks, a
// TLS certificate pool, an AddrMapper) before passing it to Open.
type Options struct {
	Kind Kind
	// Pool configures the connections to the data nodes: for KindStandalone
	// the pool itself, for KindSentinel and KindCluster the template of every
	// node's pool (Open copies it into Sentinel.Pool or Cluster.Pool).
	Pool pool.Config
	// Sentinel is used for Kind KindSentinel: the sentinels' addresses and
	// credentials (Sentinel.Sentinel).
	Sentinel sentinel.Config
	// MasterName is the service the sentinels monitor (master_name).
	MasterName string
	// Reads says where read-only commands go (read_only, replica_only,
	// route_randomly, route_by_latency, or reads=...): for KindSentinel the
	// client Open returns is ClientFor(MasterName, Reads); for KindCluster it
	// is Cluster.Reads. Ignored for KindStandalone.
	Reads core.ReadPolicy
	// Cluster is used for Kind KindCluster: the seeds and the cluster knobs.
	Cluster cluster.Config
}

// String prints the options with every password replaced.
func (o *Options) String() string {
	switch o.Kind {
	case KindSentinel:
		return fmt.Sprintf("sentinel master %q reads %v at %v; sentinels %v; nodes %v", o.MasterName, o.Reads, o.Sentinel.Sentinels, o.Sentinel.Sentinel, o.Pool)
	case KindCluster:
		return fmt.Sprintf("cluster seeds %v reads %v; nodes %v", o.Cluster.Seeds, o.Reads, o.Pool)
	}
	return fmt.Sprintf("standalone %v", o.Pool)
}

// URLError reports what is wrong with a URL: the part (scheme, host,
// path, userinfo, or a query parameter's name) and why. It never holds
// the URL's password.
type URLError struct {
	Part string
	Err  error
}

func (e *URLError) Error() string { return fmt.Sprintf("connect: URL %s: %v", e.Part, e.Err) }
func (e *URLError) Unwrap() error { return e.Err }

// ErrBadURL matches every *URLError with errors.Is.
var ErrBadURL = errors.New("connect: bad URL")

// Is makes errors.Is(err, ErrBadURL) true for every URLError.
func (e *URLError) Is(target error) bool { return target == ErrBadURL }

func bad(part, format string, args ...any) error {
	return &URLError{Part: part, Err: fmt.Errorf(format, args...)}
}

// ParseURL reads a URL into Options; the deployment comes from the URL:
//
//	redis://[[user][:password]@]host[:port][/db][?option=value&...]
//	rediss://...                      TLS
//	unix://[[user][:password]@]/path/to/socket[?db=N&...]
//	redis+sentinel://[[user][:password]@]sentinel[:port][/db]?master_name=NAME[&addr=sentinel2:port...]
//	redis+cluster://[[user][:password]@]node[:port][?addr=node2:port...]
//	(rediss+sentinel, rediss+cluster: TLS)
//
// A redis:// or rediss:// URL with master_name is a Sentinel URL too, as
// go-redis' ParseFailoverURL reads it. For Sentinel the user and password
// in the URL are the sentinels' and the username and password options
// the data nodes' (as in go-redis); for standalone and Cluster they are
// the nodes'. Options (go-redis' names where they mean the same; a
// duration is a number of seconds or a Go duration, 0 or less disables
// it where the knob allows):
//
//	db, client_name, protocol, username, password,
//	dial_timeout, read_timeout, write_timeout,
//	pool_size or max_size (dedicated connections), min_size (shared ones),
//	conn_max_idle_time, skip_verify,
//	master_name, addr (more sentinels or seeds, repeatable),
//	sentinel_timeout,
//	read_only (cluster: replicas preferred), replica_only (replicas only),
//	route_randomly and route_by_latency (nearest),
//	reads=master|replica|replica_preferred|nearest,
//	max_redirects, max_retries, min_retry_backoff, max_retry_backoff.
//
// An option the deployment does not use, an unknown one, or a bad value
// is an error naming it.
func ParseURL(raw string) (*Options, error) {
	return parse(raw, -1)
}

// ParseFailoverURL reads a Sentinel URL (see ParseURL); any of the
// schemes may be used, and master_name is required.
func ParseFailoverURL(raw string) (*Options, error) { return parse(raw, KindSentinel) }

// ParseClusterURL reads a Cluster URL (see ParseURL); any of the schemes
// may be used.
func ParseClusterURL(raw string) (*Options, error) { return parse(raw, KindCluster) }

func parse(raw string, force Kind) (*Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error holds the whole URL, password included: keep only why.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &URLError{Part: "syntax", Err: err}
	}
	o := &Options{}
	scheme := u.Scheme
	tlsOn, err := o.kindOf(scheme)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	if force >= 0 {
		o.Kind = force
	} else if q.Has("master_name") && o.Kind == KindStandalone {
		o.Kind = KindSentinel
	}
	if scheme == "unix" && o.Kind != KindStandalone {
		return nil, bad("scheme", "unix:// names one server, not a %v deployment", o.Kind)
	}
	o.credentials(u.User)
	if err := o.addresses(u, scheme, q); err != nil {
		return nil, err
	}
	if tlsOn {
		o.Pool.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if o.Kind == KindSentinel {
			o.Sentinel.Sentinel.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	if err := o.options(q, tlsOn); err != nil {
		return nil, err
	}
	if o.Kind == KindSentinel && o.MasterName == "" {
		return nil, bad("master_name", "required for a Sentinel URL")
	}
	return o, nil
}

// kindOf reads the scheme: whether it asks for TLS, and the deployment
// when it names one (redis+sentinel, redis+cluster).
func (o *Options) kindOf(scheme string) (tlsOn bool, err error) {
	switch scheme {
	case "redis", "unix":
	case "rediss":
		tlsOn = true
	case "redis+sentinel", "redis+cluster", "rediss+sentinel", "rediss+cluster":
		tlsOn = strings.HasPrefix(scheme, "rediss")
		if strings.HasSuffix(scheme, "sentinel") {
			o.Kind = KindSentinel
		} else {
			o.Kind = KindCluster
		}
	case "":
		return false, bad("scheme", "missing (redis://, rediss://, unix://, redis+sentinel://, redis+cluster://)")
	default:
		return false, bad("scheme", "unknown scheme %q", scheme)
	}
	return tlsOn, nil
}

// credentials puts the URL's user and password where they belong: the
// sentinels' for a Sentinel URL (as go-redis reads it), else the nodes'.
func (o *Options) credentials(u *url.Userinfo) {
	if u == nil {
		return
	}
	user := u.Username()
	pass, _ := u.Password()
	if o.Kind == KindSentinel {
		o.Sentinel.Sentinel.Username, o.Sentinel.Sentinel.Password = user, pass
	} else {
		o.Pool.Username, o.Pool.Password = user, pass
	}
}

// addresses reads the host, the path (a db or a socket) and addr.
func (o *Options) addresses(u *url.URL, scheme string, q url.Values) error {
	var hosts []string
	if scheme == "unix" {
		if u.Path == "" {
			return bad("path", "unix:// needs a socket path")
		}
		o.Pool.Addr, o.Pool.Network = u.Path, "unix"
	} else {
		host := u.Host
		if host == "" {
			host = "localhost"
		}
		if u.Port() == "" {
			port := "6379"
			if o.Kind == KindSentinel {
				port = "26379"
			}
			host = net.JoinHostPort(strings.Trim(host, "[]"), port)
		}
		hosts = append(hosts, host)
		if p := strings.Trim(u.Path, "/"); p != "" {
			db, err := strconv.Atoi(p)
			if err != nil || db < 0 {
				return bad("path", "database number %q is not a number ≥ 0", p)
			}
			o.Pool.DB = db
		}
	}
	for _, a := range q["addr"] {
		if o.Kind == KindStandalone {
			return bad("addr", "more addresses need a KindSentinel or KindCluster URL")
		}
		h, p, err := net.SplitHostPort(a)
		if err != nil || h == "" || p == "" {
			return bad("addr", "%q is not host:port", a)
		}
		hosts = append(hosts, a)
	}
	switch o.Kind {
	case KindStandalone:
		if scheme != "unix" {
			o.Pool.Addr = hosts[0]
		}
	case KindSentinel:
		o.Sentinel.Sentinels = hosts
	case KindCluster:
		o.Cluster.Seeds = hosts
	}
	return nil
}
