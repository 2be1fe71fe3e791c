package connect

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
)

// option is one query parameter: the deployments it applies to and how
// it sets the options from its value.
type option struct {
	kinds []Kind // nil: every kind
	set   func(o *Options, v string) error
}

var every = []Kind(nil)
var replicated = []Kind{KindSentinel, KindCluster}

// options are the query parameters ParseURL reads.
var options = map[string]option{
	"db":          {every, func(o *Options, v string) error { return setInt(&o.Pool.DB, v, 0) }},
	"client_name": {every, func(o *Options, v string) error { o.Pool.ClientName = v; return nil }},
	"protocol": {every, func(o *Options, v string) error {
		if v != "2" && v != "3" {
			return fmt.Errorf("%q is not 2 or 3", v)
		}
		o.Pool.Protocol, _ = strconv.Atoi(v)
		return nil
	}},
	"username":           {every, func(o *Options, v string) error { o.Pool.Username = v; return nil }},
	"password":           {every, func(o *Options, v string) error { o.Pool.Password = v; return nil }},
	"dial_timeout":       {every, func(o *Options, v string) error { return setDuration(&o.Pool.DialTimeout, v, false) }},
	"read_timeout":       {every, func(o *Options, v string) error { return setDuration(&o.Pool.ReadTimeout, v, true) }},
	"write_timeout":      {every, func(o *Options, v string) error { return setDuration(&o.Pool.WriteTimeout, v, true) }},
	"pool_size":          {every, func(o *Options, v string) error { return setInt(&o.Pool.MaxSize, v, 1) }},
	"max_size":           {every, func(o *Options, v string) error { return setInt(&o.Pool.MaxSize, v, 1) }},
	"min_size":           {every, func(o *Options, v string) error { return setInt(&o.Pool.MinSize, v, 1) }},
	"conn_max_idle_time": {every, func(o *Options, v string) error { return setDuration(&o.Pool.IdleTimeout, v, true) }},
	"skip_verify":        {every, setSkipVerify},
	"master_name":        {[]Kind{KindSentinel}, func(o *Options, v string) error { o.MasterName = v; return nil }},
	"sentinel_timeout":   {[]Kind{KindSentinel}, func(o *Options, v string) error { return setDuration(&o.Sentinel.SentinelTimeout, v, false) }},
	"read_only":          {replicated, readsIf(core.ReadReplicaPreferred)},
	"replica_only":       {replicated, readsIf(core.ReadReplica)},
	"route_randomly":     {replicated, readsIf(core.ReadNearest)},
	"route_by_latency":   {replicated, readsIf(core.ReadNearest)},
	"reads":              {replicated, setReads},
	"max_redirects":      {[]Kind{KindCluster}, func(o *Options, v string) error { return setInt(&o.Cluster.MaxRedirects, v, 1) }},
	"max_retries":        {[]Kind{KindCluster}, func(o *Options, v string) error { return setInt(&o.Cluster.MaxRetries, v, 0) }},
	"min_retry_backoff":  {[]Kind{KindCluster}, func(o *Options, v string) error { return setDuration(&o.Cluster.RetryBackoff, v, false) }},
	"max_retry_backoff":  {[]Kind{KindCluster}, func(o *Options, v string) error { return setDuration(&o.Cluster.MaxRetryBackoff, v, false) }},
}

// options applies the query parameters (addr is read with the hosts).
func (o *Options) options(q url.Values, tlsOn bool) error {
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names) // the first wrong one reported is always the same
	for _, name := range names {
		if name == "addr" {
			continue
		}
		opt, ok := options[name]
		if !ok {
			return bad(fmt.Sprintf("option %q", name), "unknown option")
		}
		if opt.kinds != nil && !hasKind(opt.kinds, o.Kind) {
			return bad(fmt.Sprintf("option %q", name), "does not apply to a %v URL", o.Kind)
		}
		vs := q[name]
		if len(vs) > 1 {
			return bad(fmt.Sprintf("option %q", name), "given %d times", len(vs))
		}
		if name == "skip_verify" && !tlsOn {
			return bad(`option "skip_verify"`, "needs a TLS scheme (rediss)")
		}
		if err := opt.set(o, vs[0]); err != nil {
			if name == "password" {
				err = fmt.Errorf("cannot be used") // never echo it
			}
			return &URLError{Part: fmt.Sprintf("option %q", name), Err: err}
		}
	}
	return nil
}

func hasKind(ks []Kind, k Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// setInt parses a whole number of at least least.
func setInt(dst *int, v string, least int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		return fmt.Errorf("%q is not a whole number ≥ %d", v, least)
	}
	*dst = n
	return nil
}

// setDuration parses a number of seconds or a Go duration; 0 or less
// disables the knob (-1) where canDisable, and is refused elsewhere.
func setDuration(dst *time.Duration, v string, canDisable bool) error {
	var d time.Duration
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		d = time.Duration(n * float64(time.Second))
	} else if d, err = time.ParseDuration(v); err != nil {
		return fmt.Errorf("%q is neither seconds nor a duration like 500ms", v)
	}
	if d <= 0 {
		if !canDisable {
			return fmt.Errorf("%q: must be more than 0", v)
		}
		d = -1
	}
	*dst = d
	return nil
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%q is not true or false", v)
	}
	return b, nil
}

func setSkipVerify(o *Options, v string) error {
	b, err := parseBool(v)
	if err != nil {
		return err
	}
	o.Pool.TLS.InsecureSkipVerify = b
	if o.Sentinel.Sentinel.TLS != nil {
		o.Sentinel.Sentinel.TLS.InsecureSkipVerify = b
	}
	return nil
}

// readsIf sets the read policy to p when the value is true.
func readsIf(p core.ReadPolicy) func(o *Options, v string) error {
	return func(o *Options, v string) error {
		b, err := parseBool(v)
		if err == nil && b {
			o.Reads = p
		}
		return err
	}
}

// readPolicies are the values of the reads option.
var readPolicies = map[string]core.ReadPolicy{
	"master": core.ReadMaster, "replica": core.ReadReplica,
	"replica_preferred": core.ReadReplicaPreferred, "nearest": core.ReadNearest,
}

func setReads(o *Options, v string) error {
	p, ok := readPolicies[strings.ToLower(v)]
	if !ok {
		return fmt.Errorf("%q is not master, replica, replica_preferred or nearest", v)
	}
	o.Reads = p
	return nil
}
