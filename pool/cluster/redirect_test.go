package cluster

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/asyncredis/asyncredis/protocol/resptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stranger is a RESP server outside the cluster's map that records what
// it is sent and answers every command with its own value.
type stranger struct {
	srv  *resptest.Server
	mu   sync.Mutex
	seen []string
}

func newStranger(t *testing.T) *stranger {
	s := &stranger{}
	s.srv = resptest.NewServer(t, func(c *resptest.Conn) {
		for {
			args, err := c.ReadCommand()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.seen = append(s.seen, strings.Join(args, " "))
			s.mu.Unlock()
			if c.WriteRaw(bulk1("stranger's")) != nil {
				return
			}
		}
	})
	return s
}

func (s *stranger) commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// A MOVED or ASK to an address outside the slot map is not followed by
// default: the client reads the map first and sends the command where
// the map says; the stranger never sees a connection, let alone the
// password. With Config.FollowRedirectsAnywhere it is followed, as
// other clients do.
func TestRedirectsOutsideTheMapAreNotFollowed(t *testing.T) {
	for _, kind := range []string{"MOVED", "ASK"} {
		t.Run(kind, func(t *testing.T) {
			f := newFakeCluster(t, 3)
			s := newStranger(t)
			c := start(t, f, Config{Pool: pool.Config{Password: "secret"}})
			cl, ctx := c.Client(), ctx5(t)
			key := keyIn(f, 0, 1)
			require.NoError(t, cl.Set(ctx, key, "v").Err())
			once := false
			f.setInject(func(node int, args []string) string {
				if strings.EqualFold(args[0], "GET") && !once {
					once = true
					return fmt.Sprintf("-%s %d %s\r\n", kind, Slot(key), s.srv.Addr)
				}
				return ""
			})
			v, err := cl.Get(ctx, key).Result()
			require.NoError(t, err)
			assert.Equal(t, "v", v, "served where the map says")
			assert.Empty(t, s.commands(), "the stranger was sent nothing")

			// Redirected there again after the map was read: refused.
			f.setInject(func(node int, args []string) string {
				if strings.EqualFold(args[0], "GET") {
					return fmt.Sprintf("-%s %d %s\r\n", kind, Slot(key), s.srv.Addr)
				}
				return ""
			})
			err = cl.Get(ctx, key).Err()
			var re *RedirectError
			require.ErrorAs(t, err, &re)
			assert.ErrorIs(t, err, ErrUnknownNode)
			assert.Empty(t, s.commands(), "the stranger was sent nothing")
		})
	}
}

func TestFollowRedirectsAnywhereKeepsTheOldBehaviour(t *testing.T) {
	f := newFakeCluster(t, 3)
	s := newStranger(t)
	c := start(t, f, Config{FollowRedirectsAnywhere: true})
	key := keyIn(f, 0, 1)
	f.setInject(func(node int, args []string) string {
		if strings.EqualFold(args[0], "GET") {
			return fmt.Sprintf("-MOVED %d %s\r\n", Slot(key), s.srv.Addr)
		}
		return ""
	})
	v, err := c.Client().Get(ctx5(t), key).Result()
	require.NoError(t, err)
	assert.Equal(t, "stranger's", v)
}

// The address of a MOVED or ASK is the node's announced one: the
// client maps it with AddrMapper before dialling, as it maps the map's.
func TestRedirectAddressesGoThroughAddrMapper(t *testing.T) {
	f := newFakeCluster(t, 3)
	announced := map[string]string{} // announced -> real
	for i, n := range f.nodes {
		_, port := splitAddr(n.addr)
		announced[fmt.Sprintf("node%d.cluster.invalid:%s", i, port)] = n.addr
	}
	var mu sync.Mutex
	var mapped []string
	mapper := func(a string) string {
		mu.Lock()
		defer mu.Unlock()
		mapped = append(mapped, a)
		if real, ok := announced[a]; ok {
			return real
		}
		return a
	}
	c := start(t, f, Config{AddrMapper: mapper})
	cl, ctx := c.Client(), ctx5(t)
	key := keyIn(f, 0, 1)
	require.NoError(t, cl.Set(ctx, key, "v").Err())
	f.move(int(Slot(key)), 1)
	_, port := splitAddr(f.nodes[1].addr)
	f.setInject(func(node int, args []string) string {
		if node == 0 && strings.EqualFold(args[0], "GET") {
			return fmt.Sprintf("-MOVED %d node1.cluster.invalid:%s\r\n", Slot(key), port)
		}
		return ""
	})
	v, err := cl.Get(ctx, key).Result()
	require.NoError(t, err, "the redirect's address was mapped before it was dialled")
	assert.Equal(t, "v", v)
	assert.Equal(t, f.nodes[1].addr, c.SlotOwner(Slot(key)))
	mu.Lock()
	assert.Contains(t, mapped, "node1.cluster.invalid:"+port)
	mu.Unlock()
}

// Every form of address Redis writes in a redirect: "host:port",
// ":port" and "?:port" (the node that answered), IPv6 with or without
// brackets, a hostname; invalid ones are refused, not dialled.
func TestRedirectAddressForms(t *testing.T) {
	for _, tc := range []struct{ in, from, want, err string }{
		{"10.0.0.5:7001", "10.0.0.1:7000", "10.0.0.5:7001", ""},
		{":7001", "10.0.0.1:7000", "10.0.0.1:7001", ""},
		{"?:7001", "10.0.0.1:7000", "10.0.0.1:7001", ""},
		{"::1:7001", "[::1]:7000", "[::1]:7001", ""},
		{"[::1]:7001", "[::1]:7000", "[::1]:7001", ""},
		{"fe80::1%eth0:7001", "10.0.0.1:7000", "[fe80::1%eth0]:7001", ""},
		{":7001", "[::1]:7000", "[::1]:7001", ""},
		{"redis-3.example.com:6379", "10.0.0.1:7000", "redis-3.example.com:6379", ""},
		{"host:0", "10.0.0.1:7000", "", "port"},
		{"host:70000", "10.0.0.1:7000", "", "port"},
		{"host:-5", "10.0.0.1:7000", "", "port"},
		{"host", "10.0.0.1:7000", "", "port"},
		{"bad host:7001", "10.0.0.1:7000", "", "host"},
		{"bad\x00host:7001", "10.0.0.1:7000", "", "host"},
	} {
		got, err := endpoint(tc.in, hostOf(tc.from), nil)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.in)
			assert.ErrorIs(t, err, ErrBadAddress, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
		_, _, serr := net.SplitHostPort(got)
		assert.NoError(t, serr, "dialable: %s", got)
	}
}

// "?:port" and ":port" mean the host of the node that answered, and an
// invalid address is refused with an event and never dialled.
func TestRedirectAddressFormsEndToEnd(t *testing.T) {
	f := newFakeCluster(t, 3)
	c := start(t, f, Config{})
	cl, ctx := c.Client(), ctx5(t)
	key := keyIn(f, 0, 1)
	require.NoError(t, cl.Set(ctx, key, "v").Err())
	f.move(int(Slot(key)), 1)
	_, port := splitAddr(f.nodes[1].addr)
	for _, form := range []string{"?:" + port, ":" + port} {
		f.setInject(func(node int, args []string) string {
			if node == 0 && strings.EqualFold(args[0], "GET") {
				return fmt.Sprintf("-MOVED %d %s\r\n", Slot(key), form)
			}
			return ""
		})
		v, err := cl.Get(ctx, key).Result()
		require.NoError(t, err, form)
		assert.Equal(t, "v", v, form)
		assert.Equal(t, f.nodes[1].addr, c.SlotOwner(Slot(key)), form)
		f.setInject(nil)
		f.move(int(Slot(key)), 0)
		require.NoError(t, cl.Get(ctx, key).Err())
		f.move(int(Slot(key)), 1)
	}
	f.setInject(func(node int, args []string) string {
		if strings.EqualFold(args[0], "GET") {
			return fmt.Sprintf("-MOVED %d bad:70000\r\n", Slot(key))
		}
		return ""
	})
	err := cl.Get(ctx, key).Err()
	assert.ErrorIs(t, err, protocol.ErrMoved)
	assert.ErrorIs(t, err, ErrBadAddress)
	require.Eventually(t, func() bool {
		for {
			select {
			case e := <-c.Events():
				if e.Kind == EventBadAddress && e.Addr == "bad:70000" {
					return true
				}
			default:
				return false
			}
		}
	}, 5*time.Second, time.Millisecond)
	_, ok := c.Stats().Nodes["bad:70000"]
	assert.False(t, ok, "no pool to the bad address")
}
