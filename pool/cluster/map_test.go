package cluster

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/protocol"
	"github.com/asyncredis/asyncredis/protocol/resptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostileNode answers CLUSTER SHARDS, NODES and SLOTS with what a test
// gives ("" for an unknown-command error) and anything else with an
// error; RESP2 only.
func hostileNode(t *testing.T, shards, slots func() string) string {
	srv := resptest.NewServer(t, func(c *resptest.Conn) {
		for {
			args, err := c.ReadCommand()
			if err != nil {
				return
			}
			out := "-ERR unknown command\r\n"
			if len(args) > 1 && strings.EqualFold(args[0], "CLUSTER") {
				switch strings.ToUpper(args[1]) {
				case "SHARDS":
					if shards != nil {
						out = shards()
					}
				case "SLOTS":
					if slots != nil {
						out = slots()
					}
				}
			}
			if c.WriteRaw(out) != nil {
				return
			}
		}
	})
	return srv.Addr
}

// shardReply writes a CLUSTER SHARDS reply of one shard: its slot
// bounds (already written, count pairs) and its nodes.
func shardReply(bounds string, count int, nodes ...string) string {
	var b strings.Builder
	b.WriteString("*1\r\n*4\r\n" + bulk1("slots") + fmt.Sprintf("*%d\r\n", 2*count) + bounds)
	b.WriteString(bulk1("nodes") + fmt.Sprintf("*%d\r\n", len(nodes)))
	for _, n := range nodes {
		b.WriteString(n)
	}
	return b.String()
}

// shardNode writes one node of a CLUSTER SHARDS reply; port is written
// as it is (":7000", or a string to be refused).
func shardNode(id, endpoint, port, role string) string {
	return "*10\r\n" + bulk1("id") + bulk1(id) + bulk1("port") + port + "\r\n" +
		bulk1("endpoint") + bulk1(endpoint) + bulk1("role") + bulk1(role) + bulk1("health") + bulk1("online")
}

func newWithin(t *testing.T, seed string, d time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	c, err := New(ctx, Config{Seeds: []string{seed}, RefreshInterval: -1})
	if err == nil {
		c.Close()
	}
	return time.Since(start), err
}

// An absurd map fails New at once, within its context, and costs no
// memory or pools: a CLUSTER SLOTS of 500 000 ranges, a CLUSTER SHARDS of
// 200 000 ranges, a shard of 20 000 replicas, ranges that overlap.
func TestOversizedMapsAreRefused(t *testing.T) {
	checkLeaks(t)
	// Built once, before New asks: rejected at its header, the reply's
	// content does not matter.
	slots500k := "*500000\r\n" + strings.Repeat("*3\r\n:0\r\n:0\r\n*2\r\n"+bulk1("127.0.0.1")+":7000\r\n", 500000)
	ranges200k := func() string {
		var b strings.Builder
		for i := range 200000 {
			fmt.Fprintf(&b, ":%d\r\n:%d\r\n", i%NumSlots, i%NumSlots)
		}
		return shardReply(b.String(), 200000, shardNode("m", "127.0.0.1", ":7000", "master"))
	}
	replicas20k := func() string {
		nodes := []string{shardNode("m", "127.0.0.1", ":7000", "master")}
		for i := range 20000 {
			nodes = append(nodes, shardNode(fmt.Sprint("r", i), "127.0.0.1", fmt.Sprint(":", 10000+i), "replica"))
		}
		return shardReply(":0\r\n:16383\r\n", 1, nodes...)
	}
	overlap := func() string {
		return shardReply(":0\r\n:100\r\n:50\r\n:16383\r\n", 2, shardNode("m", "127.0.0.1", ":7000", "master"))
	}
	unknown := func() string { return "-ERR unknown subcommand 'SHARDS'\r\n" }
	built := func(f func() string) func() string { s := f(); return func() string { return s } }
	ranges200k, replicas20k = built(ranges200k), built(replicas20k)
	for _, tc := range []struct {
		name          string
		shards, slots func() string
		want          string
	}{
		{"slots 500 000 ranges", unknown, func() string { return slots500k }, "exceeds limit"},
		{"shards 200 000 ranges", ranges200k, nil, "exceeds limit"},
		{"20 000 replicas", replicas20k, nil, "replicas"},
		{"overlapping ranges", overlap, nil, "claimed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Refused at once (< 0.3 s measured), not by the deadline: the
			// error names the limit.
			_, err := newWithin(t, hostileNode(t, tc.shards, tc.slots), 10*time.Second)
			require.ErrorIs(t, err, ErrNoNodes)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// Invalid node entries: a master that cannot be dialled makes the map
// invalid (the next node is asked); a replica that cannot be dialled is
// left out and reported.
func TestInvalidMapEntries(t *testing.T) {
	for _, tc := range []struct{ name, port, endpoint string }{
		{"port 0", ":0", "127.0.0.1"},
		{"port -5", ":-5", "127.0.0.1"},
		{"port 70000", ":70000", "127.0.0.1"},
		{"port a string", bulk1("7000")[:len(bulk1("7000"))-2], "127.0.0.1"},
		{"endpoint with a space", ":7000", "bad host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shards := shardReply(":0\r\n:16383\r\n", 1, shardNode("m", tc.endpoint, tc.port, "master"))
			_, err := newWithin(t, hostileNode(t, func() string { return shards }, nil), 3*time.Second)
			require.ErrorIs(t, err, ErrNoNodes)
			assert.ErrorIs(t, err, ErrBadAddress)

			f := newFakeCluster(t, 1)
			good := f.nodes[0].addr
			_, port := splitAddr(good)
			shards = shardReply(":0\r\n:16383\r\n", 1, shardNode("node0-0", "127.0.0.1", ":"+port, "master"),
				shardNode("r", tc.endpoint, tc.port, "replica"))
			v, err := protocol.NewReader(bufio.NewReader(strings.NewReader(shards)), protocol.Limits{}).Read()
			require.NoError(t, err)
			topo, err := parseShards(v, mapReader{askedHost: "127.0.0.1"})
			require.NoError(t, err)
			require.Len(t, topo.Shards, 1)
			assert.Empty(t, topo.Shards[0].Replicas, "the bad replica is left out")
			require.Len(t, topo.rejected, 1)
			assert.ErrorIs(t, topo.rejected[0], ErrBadAddress)
		})
	}
	str := func(s string) protocol.Value { return protocol.Value{Kind: protocol.KindBulkString, Str: s} }
	_, err := parseSlots(protocol.Value{Kind: protocol.KindArray, Elems: []protocol.Value{{Kind: protocol.KindArray, Elems: []protocol.Value{
		str("0"), str("100"), {Kind: protocol.KindArray, Elems: []protocol.Value{str("127.0.0.1"), {Kind: protocol.KindInteger, Int: 7000}}}}}}},
		mapReader{})
	assert.ErrorContains(t, err, "want integers", "slots as strings")
}

// New ends by its context even when a node takes its time.
func TestNewEndsByItsContext(t *testing.T) {
	checkLeaks(t)
	slow := resptest.NewServer(t, func(c *resptest.Conn) {
		for {
			if _, err := c.ReadCommand(); err != nil {
				return
			}
		}
	})
	took, err := newWithin(t, slow.Addr, 300*time.Millisecond)
	require.Error(t, err)
	t.Logf("New returned %v after it began", took)
	assert.Less(t, took, 300*time.Millisecond+time.Second, "a tail guard")
}
