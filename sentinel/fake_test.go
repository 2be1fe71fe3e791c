package sentinel

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/protocol/resptest"
	"go.uber.org/goleak"
)

// checkLeaks fails t if goroutines started during the test still run
// once it and its other cleanups have finished.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
}

// bulk encodes strings as a RESP array of bulk strings.
func bulk(ss ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(ss))
	for _, s := range ss {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(s), s)
	}
	return b.String()
}

// fakeNode is a data node that knows ROLE, PING, SET and GET; its role
// can change as a failover would change it. It speaks RESP2.
type fakeNode struct {
	srv  *resptest.Server
	addr string

	mu       sync.Mutex // guards the fields below
	role     string
	master   string // a replica's master, as ROLE reports it
	data     map[string]string
	password string        // AUTH must give it, when set
	delay    time.Duration // before answering ROLE: a distant node
	link     string        // a replica's link state as ROLE reports it; "" is connected
	downFor  int           // seconds its link has been down, for INFO
}

// setLink sets a replica's link state ("connect", "sync", ...; ""
// connected) and how long it has been down.
func (n *fakeNode) setLink(state string, downFor int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.link, n.downFor = state, downFor
}

func newFakeNode(t *testing.T, role string) *fakeNode {
	n := &fakeNode{role: role, data: map[string]string{}}
	n.srv = resptest.NewServer(t, func(c *resptest.Conn) { c.Serve(n.reply) })
	n.addr = n.srv.Addr
	return n
}

func (n *fakeNode) setRole(role, master string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.role, n.master = role, master
}

func (n *fakeNode) get(key string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	v, ok := n.data[key]
	return v, ok
}

func (n *fakeNode) setDelay(d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.delay = d
}

func (n *fakeNode) reply(args []string) string {
	n.mu.Lock()
	delay := n.delay
	n.mu.Unlock()
	if strings.EqualFold(args[0], "ROLE") && delay > 0 {
		time.Sleep(delay) // the node is far away, not a synchronisation
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	switch strings.ToUpper(args[0]) {
	case "AUTH":
		if n.password != "" && args[len(args)-1] != n.password {
			return "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
		}
	case "ROLE":
		if n.role == "master" {
			return "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"
		}
		host, port, err := net.SplitHostPort(n.master)
		if err != nil {
			host, port = "none", "0"
		}
		state := n.link
		if state == "" {
			state = "connected"
		}
		return fmt.Sprintf("*5\r\n$5\r\nslave\r\n$%d\r\n%s\r\n:%s\r\n$%d\r\n%s\r\n:0\r\n", len(host), host, port, len(state), state)
	case "INFO":
		text := "# Replication\r\nrole:slave\r\nmaster_link_status:up\r\n"
		if n.link != "" {
			text = fmt.Sprintf("# Replication\r\nrole:slave\r\nmaster_link_status:down\r\nmaster_link_down_since_seconds:%d\r\n", n.downFor)
		}
		return fmt.Sprintf("$%d\r\n%s\r\n", len(text), text)
	case "PING":
		return "+PONG\r\n"
	case "SET":
		if n.role != "master" {
			return "-READONLY You can't write against a read only replica.\r\n"
		}
		n.data[args[1]] = args[2]
		return "+OK\r\n"
	case "GET":
		if v, ok := n.data[args[1]]; ok {
			return fmt.Sprintf("$%d\r\n%s\r\n", len(v), v)
		}
		return "$-1\r\n"
	}
	return ""
}

// fakeTopology is what the fake sentinels report: one master name, its
// master and replicas and config epoch, and the subscribers to events.
type fakeTopology struct {
	name string

	mu       sync.Mutex // guards the fields below
	master   *fakeNode
	replicas []*fakeNode
	epoch    int64
	subs     map[*fakeSub]struct{}

	subscribed chan string // a sentinel's address each time a listener subscribes
}

type fakeSub struct {
	mu sync.Mutex // orders writes to c
	c  *resptest.Conn
}

func newFakeTopology(name string, master *fakeNode, replicas ...*fakeNode) *fakeTopology {
	for _, r := range replicas {
		r.setRole(r.role, master.addr)
	}
	return &fakeTopology{name: name, master: master, replicas: replicas, epoch: 1,
		subs: map[*fakeSub]struct{}{}, subscribed: make(chan string, 64)}
}

// failover makes replica i the master, the old master a replica, and
// announces it on every subscription.
func (tp *fakeTopology) failover(i int) {
	tp.mu.Lock()
	old, next := tp.master, tp.replicas[i]
	tp.replicas[i], tp.master = old, next
	tp.epoch++
	tp.mu.Unlock()
	next.setRole("master", "")
	old.setRole("slave", next.addr)
	for _, r := range tp.replicas {
		if r != old {
			r.setRole("slave", next.addr)
		}
	}
	oh, op, _ := net.SplitHostPort(old.addr)
	nh, np, _ := net.SplitHostPort(next.addr)
	tp.publish("+switch-master", strings.Join([]string{tp.name, oh, op, nh, np}, " "))
}

// publish sends an event to every subscribed listener.
func (tp *fakeTopology) publish(channel, payload string) {
	tp.mu.Lock()
	subs := make([]*fakeSub, 0, len(tp.subs))
	for s := range tp.subs {
		subs = append(subs, s)
	}
	tp.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		s.c.WriteRaw(bulk("message", channel, payload))
		s.mu.Unlock()
	}
}

func instanceFields(name string, n *fakeNode, flags string, epoch int64) []string {
	host, port, _ := net.SplitHostPort(n.addr)
	return []string{"name", name, "ip", host, "port", port, "flags", flags,
		"config-epoch", strconv.FormatInt(epoch, 10), "master-link-status", "ok"}
}

// fakeSentinel answers the SENTINEL commands from a topology. A lagging
// one reports its own master and epoch instead.
type fakeSentinel struct {
	srv  *resptest.Server
	addr string
	topo *fakeTopology
}

func newFakeSentinel(t *testing.T, topo *fakeTopology) *fakeSentinel {
	s := &fakeSentinel{topo: topo}
	s.srv = resptest.NewServer(t, s.serve)
	s.addr = s.srv.Addr
	return s
}

func (s *fakeSentinel) serve(c *resptest.Conn) {
	sub := &fakeSub{c: c}
	defer func() {
		s.topo.mu.Lock()
		delete(s.topo.subs, sub)
		s.topo.mu.Unlock()
	}()
	for {
		args, err := c.ReadCommand()
		if err != nil {
			return
		}
		out := s.reply(args, sub)
		sub.mu.Lock()
		err = c.WriteRaw(out)
		sub.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (s *fakeSentinel) reply(args []string, sub *fakeSub) string {
	tp := s.topo
	cmd := strings.ToUpper(args[0])
	switch cmd {
	case "HELLO":
		return "-ERR unknown command 'HELLO'\r\n"
	case "PING":
		return "+PONG\r\n"
	case "SUBSCRIBE":
		var b strings.Builder
		for i, ch := range args[1:] {
			fmt.Fprintf(&b, "*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:%d\r\n", len(ch), ch, i+1)
		}
		tp.mu.Lock()
		tp.subs[sub] = struct{}{}
		tp.mu.Unlock()
		tp.subscribed <- s.addr
		return b.String()
	case "SENTINEL":
	default:
		return "+OK\r\n"
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	sub2 := strings.ToUpper(args[1])
	if len(args) > 2 && args[2] != tp.name && sub2 != "RESET" && sub2 != "MONITOR" && sub2 != "REMOVE" && sub2 != "CONFIG" {
		if sub2 == "GET-MASTER-ADDR-BY-NAME" {
			return "*-1\r\n"
		}
		return "-ERR No such master with that name\r\n"
	}
	switch sub2 {
	case "MASTER":
		return bulk(instanceFields(tp.name, tp.master, "master", tp.epoch)...)
	case "MASTERS":
		return "*1\r\n" + bulk(instanceFields(tp.name, tp.master, "master", tp.epoch)...)
	case "GET-MASTER-ADDR-BY-NAME":
		host, port, _ := net.SplitHostPort(tp.master.addr)
		return bulk(host, port)
	case "REPLICAS", "SLAVES":
		out := fmt.Sprintf("*%d\r\n", len(tp.replicas))
		for _, r := range tp.replicas {
			out += bulk(instanceFields(r.addr, r, "slave", 0)...)
		}
		return out
	case "SENTINELS":
		return "*0\r\n"
	case "RESET":
		return ":1\r\n"
	case "MYID":
		return "$4\r\nid-1\r\n"
	case "CKQUORUM":
		return "+OK 3 usable Sentinels. Quorum and failover authorization can be reached\r\n"
	case "CONFIG":
		if strings.EqualFold(args[2], "GET") {
			return bulk("resolve-hostnames", "no")
		}
	}
	return "+OK\r\n"
}

// deadAddr returns an address on which nothing listens.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
