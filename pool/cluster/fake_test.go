package cluster

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol/resptest"
)

// fakeCluster is an in-process cluster of RESP2 nodes sharing one slot
// table: each node serves the keys of its slots and answers MOVED for
// the others, ASK for keys of a slot it is migrating that it no longer
// holds, and whatever a test's inject hook returns first.
type fakeCluster struct {
	t        *testing.T
	nodes    []*fakeNode
	replicas []*fakeNode // replicas[i] replicates nodes[i]
	opts     fakeOptions

	mu        sync.Mutex // guards the fields below and every node's data
	owner     [NumSlots]int
	migrating map[int]int // slot -> node importing it
	inject    func(node int, args []string) string
	shardsErr bool                          // CLUSTER SHARDS unknown: the client must fall back to SLOTS
	asked     map[string]int                // command name -> times asked, over all nodes
	perNode   []map[string]int              // command name -> times, per node
	onCommand func(node int, args []string) // called under mu after inject
	plainSubs map[string][]*connState       // SUBSCRIBE channel -> connections, on any node
	epoch     []int64                       // per master: the config epoch of its claim (CLUSTER NODES)
	frozen    map[int][2]string             // node -> the CLUSTER SHARDS and NODES it keeps answering (a stale view)
}

type fakeNode struct {
	srv  *resptest.Server
	addr string
	data map[string]string
	subs map[string][]*connState       // sharded channel -> subscribed connections
	held atomic.Pointer[chan struct{}] // while set, connections stop reading (after the command at hand)
}

// hold makes the node stop reading its connections, as a server that
// stopped reading would: each answers the command it has, then reads
// nothing more until the test ends.
func (n *fakeNode) hold(t *testing.T) {
	ch := make(chan struct{})
	n.held.Store(&ch)
	t.Cleanup(func() { close(ch) })
}

// fakeOptions shape a fake cluster.
type fakeOptions struct {
	replicas bool // one replica per master, serving reads after READONLY
	resp3    bool // answer HELLO 3 (pub/sub needs it)
}

// newFakeCluster starts n nodes, the slots split evenly among them.
func newFakeCluster(t *testing.T, n int) *fakeCluster { return newFake(t, n, fakeOptions{}) }

func newFake(t *testing.T, n int, o fakeOptions) *fakeCluster {
	f := &fakeCluster{t: t, migrating: map[int]int{}, asked: map[string]int{}, opts: o, plainSubs: map[string][]*connState{}}
	for i := range n {
		f.nodes = append(f.nodes, f.startNode(t, i, false))
		f.perNode = append(f.perNode, map[string]int{})
	}
	if o.replicas {
		for i := range n {
			f.replicas = append(f.replicas, f.startNode(t, i, true))
		}
	}
	for s := range NumSlots {
		f.owner[s] = s * n / NumSlots
	}
	for i := range n {
		f.epoch = append(f.epoch, int64(i+1))
	}
	return f
}

// freeze makes master i answer CLUSTER SHARDS and NODES with the map as
// it is now, whatever happens next: a node that has not heard of a
// failover or a move yet.
func (f *fakeCluster) freeze(i int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.frozen == nil {
		f.frozen = map[int][2]string{}
	}
	f.frozen[i] = [2]string{f.shardsLocked(), f.nodesLocked(i)}
}

// bumpLocked gives master i the greatest config epoch, as Redis does to
// a node that takes slots over (a failover or the end of a move).
func (f *fakeCluster) bumpLocked(i int) {
	f.epoch[i] = slices.Max(f.epoch) + 1
}

// nodesLocked writes CLUSTER NODES as node me sees the map: masters with
// their config epochs (their slots are left out: the client reads them
// from SHARDS).
func (f *fakeCluster) nodesLocked(me int) string {
	var b strings.Builder
	for i, n := range f.nodes {
		flags := "master"
		if i == me {
			flags = "myself,master"
		}
		fmt.Fprintf(&b, "node%d-0 %s@1 %s - 0 0 %d connected\n", i, n.addr, flags, f.epoch[i])
		if i < len(f.replicas) {
			fmt.Fprintf(&b, "node%d-1 %s@1 slave node%d-0 0 0 %d connected\n", i, f.replicas[i].addr, i, f.epoch[i])
		}
	}
	return bulk1(b.String())
}

// startNode starts master i, or its replica.
func (f *fakeCluster) startNode(t *testing.T, i int, replica bool) *fakeNode {
	node := &fakeNode{data: map[string]string{}, subs: map[string][]*connState{}}
	node.srv = resptest.NewServer(t, func(c *resptest.Conn) {
		st := &connState{conn: c}
		for {
			if h := node.held.Load(); h != nil {
				<-*h
			}
			args, err := c.ReadCommand()
			if err != nil {
				f.mu.Lock()
				f.unsubscribeAllLocked(st)
				f.mu.Unlock()
				return
			}
			var out string
			if replica {
				out = f.replicaReply(i, st, args)
			} else {
				out = f.reply(i, st, args)
			}
			if out == "" && strings.EqualFold(args[0], "HELLO") {
				out = "-ERR unknown command 'HELLO'\r\n"
			}
			if out == "" {
				out = "+OK\r\n"
			}
			if out == noReply {
				continue
			}
			if st.write(out) != nil {
				return
			}
		}
	})
	node.addr = node.srv.Addr
	return node
}

func (f *fakeCluster) seeds() []string { return []string{f.nodes[0].addr} }

// move gives slot to node to, with its keys.
func (f *fakeCluster) move(slot, to int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bumpLocked(to)
	from := f.owner[slot]
	for k, v := range f.nodes[from].data {
		if int(core.Slot([]byte(k))) == slot {
			f.nodes[to].data[k] = v
			delete(f.nodes[from].data, k)
		}
	}
	f.owner[slot] = to
	delete(f.migrating, slot)
	// As Redis does, the old owner drops the slot's sharded subscribers.
	for ch, subs := range f.nodes[from].subs {
		if int(core.Slot([]byte(ch))) == slot {
			for _, sub := range subs {
				sub.write(push("sunsubscribe", ch) + "")
			}
			delete(f.nodes[from].subs, ch)
		}
	}
}

// migrate starts moving slot to node to and moves key there.
func (f *fakeCluster) migrate(slot, to int, keys ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.migrating[slot] = to
	from := f.owner[slot]
	for _, k := range keys {
		if v, ok := f.nodes[from].data[k]; ok {
			f.nodes[to].data[k] = v
			delete(f.nodes[from].data, k)
		}
	}
}

func (f *fakeCluster) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked[strings.ToUpper(name)]
}

func (f *fakeCluster) countAt(node int, name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.perNode[node][strings.ToUpper(name)]
}

func (f *fakeCluster) value(key string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.nodes[f.owner[core.Slot([]byte(key))]].data[key]
	return v, ok
}

func (f *fakeCluster) setInject(fn func(node int, args []string) string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inject = fn
}

// connState is one connection's state on a fake node.
type connState struct {
	conn     *resptest.Conn
	wmu      sync.Mutex // serialises writes: replies, and pushes from other connections
	asking   bool
	readonly bool
	multi    bool
	abort    bool
	queued   [][]string
}

func (st *connState) write(out string) error {
	st.wmu.Lock()
	defer st.wmu.Unlock()
	return st.conn.WriteRaw(out)
}

// push writes a RESP3 push frame of strings.
func push(parts ...string) string {
	out := fmt.Sprintf(">%d\r\n", len(parts))
	for _, p := range parts {
		out += bulk1(p)
	}
	return out
}

func (f *fakeCluster) reply(me int, st *connState, args []string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := strings.ToUpper(args[0])
	if name == "CLUSTER" && len(args) > 1 {
		name += " " + strings.ToUpper(args[1])
	}
	f.asked[name]++
	f.perNode[me][name]++
	wasAsking := st.asking
	st.asking = false
	if f.inject != nil {
		if out := f.inject(me, args); out != "" {
			return out
		}
	}
	if f.onCommand != nil {
		f.onCommand(me, args)
	}
	if v, ok := f.frozen[me]; ok && name == "CLUSTER SHARDS" {
		return v[0]
	} else if ok && name == "CLUSTER NODES" {
		return v[1]
	}
	switch name {
	case "HELLO", "PING":
		return f.greetLocked(name)
	case "ASKING":
		st.asking = true
		return "+OK\r\n"
	case "CLUSTER SHARDS":
		if f.shardsErr {
			return "-ERR unknown subcommand 'SHARDS'\r\n"
		}
		return f.shardsLocked()
	case "CLUSTER SLOTS":
		return f.slotsLocked()
	case "CLUSTER NODES":
		return f.nodesLocked(me)
	case "CLUSTER KEYSLOT":
		return fmt.Sprintf(":%d\r\n", core.Slot([]byte(args[2])))
	case "CLUSTER COUNTKEYSINSLOT":
		n := 0
		for k := range f.nodes[me].data {
			if strconv.Itoa(int(core.Slot([]byte(k)))) == args[2] {
				n++
			}
		}
		return fmt.Sprintf(":%d\r\n", n)
	case "SCAN":
		var keys []string
		for k := range f.nodes[me].data {
			keys = append(keys, k)
		}
		out := fmt.Sprintf("*2\r\n%s*%d\r\n", bulk1("0"), len(keys))
		for _, k := range keys {
			out += bulk1(k)
		}
		return out
	case "SSUBSCRIBE", "SUNSUBSCRIBE", "SUBSCRIBE", "UNSUBSCRIBE":
		return f.subscribeLocked(me, st, name, args[1:])
	case "SPUBLISH":
		n := 0
		for _, sub := range f.nodes[me].subs[args[1]] {
			sub.write(push("smessage", args[1], args[2]))
			n++
		}
		return fmt.Sprintf(":%d\r\n", n)
	case "PUBLISH":
		n := 0
		for _, sub := range f.plainSubs[args[1]] {
			sub.write(push("message", args[1], args[2]))
			n++
		}
		return fmt.Sprintf(":%d\r\n", n)
	case "CLUSTER INFO":
		return bulk1("cluster_state:ok\r\ncluster_known_nodes:" + strconv.Itoa(len(f.nodes)) + "\r\n")
	case "MULTI":
		st.multi, st.abort, st.queued = true, false, nil
		return "+OK\r\n"
	case "EXEC":
		return f.execLocked(me, st)
	case "WATCH", "UNWATCH", "CLIENT", "READONLY", "AUTH":
		return "+OK\r\n"
	}
	if st.multi {
		out := f.routeLocked(me, name, args, wasAsking)
		if out != "" {
			st.abort = true
			return out
		}
		st.queued = append(st.queued, args)
		return "+QUEUED\r\n"
	}
	if out := f.routeLocked(me, name, args, wasAsking); out != "" {
		return out
	}
	return f.serveLocked(name, args, f.nodes[me].data)
}

// routeLocked returns the redirect or refusal for a keyed command at
// node me, or "" when me serves it.
func (f *fakeCluster) routeLocked(me int, name string, args []string, wasAsking bool) string {
	keys := cmdKeys(name, args)
	if len(keys) == 0 {
		return "-ERR fake: unknown command " + name + "\r\n"
	}
	slot := int(core.Slot([]byte(keys[0])))
	for _, k := range keys[1:] {
		if int(core.Slot([]byte(k))) != slot {
			return "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
		}
	}
	data := f.nodes[me].data
	if f.owner[slot] < 0 {
		return "-CLUSTERDOWN Hash slot not served\r\n"
	}
	if f.owner[slot] != me {
		if to, ok := f.migrating[slot]; ok && to == me && wasAsking {
			return ""
		}
		return fmt.Sprintf("-MOVED %d %s\r\n", slot, f.nodes[f.owner[slot]].addr)
	}
	if to, ok := f.migrating[slot]; ok {
		if _, here := data[keys[0]]; !here {
			return fmt.Sprintf("-ASK %d %s\r\n", slot, f.nodes[to].addr)
		}
	}
	return ""
}

// execLocked runs a transaction's queued commands.
func (f *fakeCluster) execLocked(me int, st *connState) string {
	defer func() { st.multi, st.abort, st.queued = false, false, nil }()
	if st.abort {
		return "-EXECABORT Transaction discarded because of previous errors.\r\n"
	}
	out := fmt.Sprintf("*%d\r\n", len(st.queued))
	for _, args := range st.queued {
		out += f.serveLocked(strings.ToUpper(args[0]), args, f.nodes[me].data)
	}
	return out
}

func cmdKeys(name string, args []string) []string {
	switch name {
	case "MGET", "DEL", "EXISTS", "UNLINK", "TOUCH", "SUNIONSTORE":
		return args[1:]
	case "MSET":
		var ks []string
		for i := 1; i < len(args); i += 2 {
			ks = append(ks, args[i])
		}
		return ks
	case "GET", "SET", "INCR", "LPUSH", "RPUSH", "BLPOP":
		if len(args) > 1 {
			return args[1:2]
		}
	}
	return nil
}

func (f *fakeCluster) serveLocked(name string, args []string, data map[string]string) string {
	switch name {
	case "GET":
		v, ok := data[args[1]]
		if !ok {
			return "$-1\r\n"
		}
		return bulk1(v)
	case "SET":
		data[args[1]] = args[2]
		return "+OK\r\n"
	case "INCR":
		n, _ := strconv.Atoi(data[args[1]])
		n++
		data[args[1]] = strconv.Itoa(n)
		return ":" + strconv.Itoa(n) + "\r\n"
	case "MGET":
		out := fmt.Sprintf("*%d\r\n", len(args)-1)
		for _, k := range args[1:] {
			if v, ok := data[k]; ok {
				out += bulk1(v)
			} else {
				out += "$-1\r\n"
			}
		}
		return out
	case "DEL", "EXISTS", "UNLINK", "TOUCH":
		n := 0
		for _, k := range args[1:] {
			if _, ok := data[k]; ok {
				n++
				if name == "DEL" || name == "UNLINK" {
					delete(data, k)
				}
			}
		}
		return ":" + strconv.Itoa(n) + "\r\n"
	case "SUNIONSTORE":
		return ":0\r\n"
	case "MSET":
		for i := 1; i+1 < len(args); i += 2 {
			data[args[i]] = args[i+1]
		}
		return "+OK\r\n"
	}
	return "-ERR fake: cannot serve " + name + "\r\n"
}

func bulk1(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

// shardsLocked writes CLUSTER SHARDS in RESP2: flat key-value arrays.
func (f *fakeCluster) shardsLocked() string {
	ranges := f.rangesLocked()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(f.nodes))
	for i := range f.nodes {
		b.WriteString("*4\r\n" + bulk1("slots"))
		fmt.Fprintf(&b, "*%d\r\n", 2*len(ranges[i]))
		for _, r := range ranges[i] {
			fmt.Fprintf(&b, ":%d\r\n:%d\r\n", r[0], r[1])
		}
		members := []*fakeNode{f.nodes[i]}
		if i < len(f.replicas) {
			members = append(members, f.replicas[i])
		}
		fmt.Fprintf(&b, "%s*%d\r\n", bulk1("nodes"), len(members))
		for j, m := range members {
			host, port := splitAddr(m.addr)
			role := "master"
			if j > 0 {
				role = "replica"
			}
			b.WriteString("*12\r\n")
			b.WriteString(bulk1("id") + bulk1(fmt.Sprintf("node%d-%d", i, j)))
			b.WriteString(bulk1("port") + ":" + port + "\r\n")
			b.WriteString(bulk1("ip") + bulk1(host))
			b.WriteString(bulk1("endpoint") + bulk1(host))
			b.WriteString(bulk1("role") + bulk1(role))
			b.WriteString(bulk1("health") + bulk1("online"))
		}
	}
	return b.String()
}

// slotsLocked writes CLUSTER SLOTS.
func (f *fakeCluster) slotsLocked() string {
	ranges := f.rangesLocked()
	var entries []string
	for i, n := range f.nodes {
		host, port := splitAddr(n.addr)
		for _, r := range ranges[i] {
			entries = append(entries, fmt.Sprintf("*3\r\n:%d\r\n:%d\r\n*3\r\n%s:%s\r\n%s", r[0], r[1], bulk1(host), port, bulk1(fmt.Sprintf("node%d", i))))
		}
	}
	return fmt.Sprintf("*%d\r\n", len(entries)) + strings.Join(entries, "")
}

// rangesLocked returns each node's slot ranges.
func (f *fakeCluster) rangesLocked() [][][2]int {
	out := make([][][2]int, len(f.nodes))
	start := 0
	for s := 1; s <= NumSlots; s++ {
		if s == NumSlots || f.owner[s] != f.owner[start] {
			if o := f.owner[start]; o >= 0 { // -1: a slot no master serves
				out[o] = append(out[o], [2]int{start, s - 1})
			}
			start = s
		}
	}
	return out
}

func splitAddr(addr string) (host, port string) {
	i := strings.LastIndexByte(addr, ':')
	return addr[:i], addr[i+1:]
}

// subscribeLocked serves the (un)subscribe commands on node me.
func (f *fakeCluster) subscribeLocked(me int, st *connState, name string, chans []string) string {
	subs := f.plainSubs
	if name == "SSUBSCRIBE" || name == "SUNSUBSCRIBE" {
		subs = f.nodes[me].subs
	}
	out := ""
	for _, ch := range chans {
		if name == "SSUBSCRIBE" || name == "SUBSCRIBE" {
			subs[ch] = append(subs[ch], st)
		} else {
			subs[ch] = slices.DeleteFunc(subs[ch], func(x *connState) bool { return x == st })
		}
		out += push(strings.ToLower(name), ch)
	}
	// The confirmations are pushes: the command itself has no reply.
	st.write(out)
	return noReply
}

// noReply is what reply returns for a command answered by pushes only.
const noReply = "\x00"

// unsubscribeAllLocked forgets a closed connection's subscriptions.
func (f *fakeCluster) unsubscribeAllLocked(st *connState) {
	drop := func(m map[string][]*connState) {
		for ch, subs := range m {
			m[ch] = slices.DeleteFunc(subs, func(x *connState) bool { return x == st })
		}
	}
	drop(f.plainSubs)
	for _, n := range f.nodes {
		drop(n.subs)
	}
}

// replicaReply serves a replica of master i: reads of its master's slots
// after READONLY, MOVED to the master otherwise.
func (f *fakeCluster) replicaReply(i int, st *connState, args []string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := strings.ToUpper(args[0])
	f.asked["REPLICA "+name]++
	switch name {
	case "HELLO", "PING":
		return f.greetLocked(name)
	case "READONLY":
		st.readonly = true
		return "+OK\r\n"
	case "CLUSTER":
		return f.shardsLocked()
	}
	keys := cmdKeys(name, args)
	if len(keys) == 0 {
		return "-ERR fake replica: unknown command " + name + "\r\n"
	}
	slot := int(core.Slot([]byte(keys[0])))
	if f.owner[slot] < 0 {
		return "-CLUSTERDOWN Hash slot not served\r\n"
	}
	if f.owner[slot] != i || !st.readonly || (name != "GET" && name != "MGET") {
		return fmt.Sprintf("-MOVED %d %s\r\n", slot, f.nodes[f.owner[slot]].addr)
	}
	return f.serveLocked(name, args, f.nodes[i].data)
}

// greetLocked answers HELLO (RESP3 when the fake speaks it, else the
// unknown-command error that makes clients use RESP2) and PING.
func (f *fakeCluster) greetLocked(name string) string {
	switch {
	case name == "PING":
		return "+PONG\r\n"
	case f.opts.resp3:
		return "%0\r\n"
	}
	return ""
}

// takeOver gives every slot of node from, with its keys, to node to, as
// a failover or a resharding of the whole node would.
func (f *fakeCluster) takeOver(from, to int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bumpLocked(to)
	for s := range NumSlots {
		if f.owner[s] == from {
			f.owner[s] = to
		}
	}
	for k, v := range f.nodes[from].data {
		f.nodes[to].data[k] = v
	}
}
