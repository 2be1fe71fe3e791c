package core

import (
	"fmt"
	"strings"
)

// ReadPolicy says where a client that can reach replicas (the sentinel
// package's ClientFor, the cluster client) sends read-only commands.
type ReadPolicy int

const (
	// ReadMaster sends every command to the master.
	ReadMaster ReadPolicy = iota
	// ReadReplica sends read-only commands to the replicas only.
	ReadReplica
	// ReadReplicaPreferred sends read-only commands to the replicas while
	// one is usable, else to the master.
	ReadReplicaPreferred
	// ReadNearest sends read-only commands to the node, master or replica,
	// with the lowest measured round trip.
	ReadNearest
)

// ReadOnly reports whether the command named name only reads data, so a
// replica can serve it. Commands with a write variant (SORT, GEORADIUS,
// ZRANGE ... STORE) are left to the master unless their read-only form
// is named.
func ReadOnly(name []byte) bool {
	if len(name) == 0 || len(name) > 24 {
		return false
	}
	var buf [24]byte
	up := buf[:len(name)]
	for i, c := range name {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	return readOnlyCommands[string(up)]
}

var readOnlyCommands = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`
		GET MGET GETRANGE SUBSTR STRLEN GETBIT BITCOUNT BITPOS BITFIELD_RO LCS EXISTS TYPE TTL PTTL
		EXPIRETIME PEXPIRETIME DUMP KEYS SCAN RANDOMKEY DBSIZE OBJECT
		HGET HMGET HGETALL HKEYS HVALS HLEN HEXISTS HSTRLEN HRANDFIELD HSCAN
		LRANGE LLEN LINDEX LPOS
		SCARD SISMEMBER SMISMEMBER SMEMBERS SRANDMEMBER SINTER SINTERCARD SUNION SDIFF SSCAN
		ZCARD ZCOUNT ZLEXCOUNT ZSCORE ZMSCORE ZRANK ZREVRANK ZRANGE ZRANGEBYSCORE ZRANGEBYLEX
		ZREVRANGE ZREVRANGEBYSCORE ZREVRANGEBYLEX ZRANDMEMBER ZINTER ZINTERCARD ZUNION ZDIFF ZSCAN
		XRANGE XREVRANGE XLEN XREAD XINFO XPENDING
		GEOPOS GEODIST GEOHASH GEOSEARCH GEORADIUS_RO GEORADIUSBYMEMBER_RO
		PFCOUNT SORT_RO EVAL_RO EVALSHA_RO FCALL_RO TOUCH`) {
		m[c] = true
	}
	return m
}()

// String names the policy as the connect package's reads option does.
func (p ReadPolicy) String() string {
	switch p {
	case ReadMaster:
		return "master"
	case ReadReplica:
		return "replica"
	case ReadReplicaPreferred:
		return "replica_preferred"
	case ReadNearest:
		return "nearest"
	}
	return fmt.Sprintf("ReadPolicy(%d)", int(p))
}
