package sentinel

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/protocol"
)

// Instance is what a sentinel reports about a master, replica or peer
// sentinel (SENTINEL MASTER, MASTERS, REPLICAS, SENTINELS).
type Instance struct {
	Name  string
	IP    string
	Port  int
	RunID string
	// Flags as reported, and parsed.
	Flags        []string
	IsMaster     bool
	IsSlave      bool
	SDown        bool
	ODown        bool
	IsSentinel   bool
	Disconnected bool
	MasterDown   bool
	// Common numeric fields, parsed (zero when absent).
	ConfigEpoch        int64
	NumSlaves          int64
	NumOtherSentinels  int64
	Quorum             int64
	DownAfter          int64 // down-after-milliseconds
	LastOkPingReply    int64 // milliseconds
	MasterLinkDownTime int64
	SlavePriority      int64
	SlaveReplOffset    int64
	// MasterHost, MasterPort and MasterLinkStatus describe a replica's link.
	MasterHost       string
	MasterPort       int
	MasterLinkStatus string
	// Numbers holds every field that parsed as an integer; Fields holds
	// every field as sent, known or not.
	Numbers map[string]int64
	Fields  map[string]string
}

// Addr is "ip:port".
func (i Instance) Addr() string { return net.JoinHostPort(i.IP, strconv.Itoa(i.Port)) }

// FailoverTimeout is the failover-timeout a sentinel reports for a master
// (0 when absent).
func (i Instance) FailoverTimeout() time.Duration {
	return time.Duration(i.Numbers["failover-timeout"]) * time.Millisecond
}

// Healthy reports whether the instance is neither down nor disconnected.
func (i Instance) Healthy() bool { return !i.SDown && !i.ODown && !i.Disconnected }

func parseInstance(v protocol.Value) (Instance, error) {
	f, err := async.ToStringMap(v)
	if err != nil {
		return Instance{}, err
	}
	in := Instance{Fields: f, Numbers: map[string]int64{}}
	for k, s := range f {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			in.Numbers[k] = n
		}
	}
	in.Name, in.IP, in.RunID = f["name"], f["ip"], f["runid"]
	in.Port = int(in.Numbers["port"])
	if f["flags"] != "" {
		in.Flags = strings.Split(f["flags"], ",")
	}
	for _, fl := range in.Flags {
		switch fl {
		case "master":
			in.IsMaster = true
		case "slave":
			in.IsSlave = true
		case "s_down":
			in.SDown = true
		case "o_down":
			in.ODown = true
		case "sentinel":
			in.IsSentinel = true
		case "disconnected":
			in.Disconnected = true
		case "master_down":
			in.MasterDown = true
		}
	}
	in.ConfigEpoch = in.Numbers["config-epoch"]
	in.NumSlaves = in.Numbers["num-slaves"]
	in.NumOtherSentinels = in.Numbers["num-other-sentinels"]
	in.Quorum = in.Numbers["quorum"]
	in.DownAfter = in.Numbers["down-after-milliseconds"]
	in.LastOkPingReply = in.Numbers["last-ok-ping-reply"]
	in.MasterLinkDownTime = in.Numbers["master-link-down-time"]
	in.SlavePriority = in.Numbers["slave-priority"]
	in.SlaveReplOffset = in.Numbers["slave-repl-offset"]
	in.MasterHost = f["master-host"]
	in.MasterPort = int(in.Numbers["master-port"])
	in.MasterLinkStatus = f["master-link-status"]
	return in, nil
}

func parseInstances(v protocol.Value) ([]Instance, error) {
	es, err := elemsOf(v)
	if err != nil {
		return nil, err
	}
	out := make([]Instance, 0, len(es))
	for _, e := range es {
		in, err := parseInstance(e)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

func elemsOf(v protocol.Value) ([]protocol.Value, error) {
	if v.Kind == protocol.KindArray || v.Kind == protocol.KindSet {
		return v.Elems, nil
	}
	return nil, &async.TypeError{Want: "array", Got: v.Kind}
}
