package sentinel

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
)

// Event kinds besides the sentinel channel names ("+sdown", "-odown",
// "+slave", "+convert-to-slave", "+reboot", "+failover-end", ...), which
// are passed through as they are.
const (
	// EventSwitchMaster is a +switch-master announcement from a sentinel.
	EventSwitchMaster = "+switch-master"
	// EventSentinelAdded reports a peer sentinel learned from +sentinel.
	EventSentinelAdded = "+sentinel"
	// EventMasterChanged reports that the client now sends to a new,
	// verified master.
	EventMasterChanged = "master-changed"
	// EventReplicasChanged reports a new set of verified replicas.
	EventReplicasChanged = "replicas-changed"
	// EventWritesFenced reports that a failover of the master at Addr has
	// started: nothing more is written to it, commands wait.
	EventWritesFenced = "writes-fenced"
	// EventWritesResumed reports that a fenced master is written to again
	// (the failover aborted or timed out without a change).
	EventWritesResumed = "writes-resumed"
)

// Event is one topology change, for event-driven workers.
type Event struct {
	Kind     string    // one of the constants above, or a sentinel channel name
	Name     string    // the service (master name), when known
	Addr     string    // the instance concerned (the new master for switches)
	OldAddr  string    // the previous master, for switches and master changes
	Via      string    // for EventMasterChanged: "discovery" or "+switch-master"
	Addrs    []string  // the replicas, for EventReplicasChanged
	Sentinel string    // the sentinel that announced it, if any
	Payload  string    // the sentinel's message as sent
	At       time.Time // when it was received or decided; for EventSwitchMaster, when the client had stopped writing to the old master
}

// channels are the sentinel event channels the pool subscribes to.
var channels = []string{
	"+switch-master", "+try-failover", "+elected-leader", "+failover-state-select-slave", "+sdown", "-sdown", "+odown", "-odown", "+slave", "+convert-to-slave",
	"+reboot", "+sentinel", "+failover-end", "+selected-slave", "+promoted-slave",
	"-failover-abort-not-elected", "-failover-abort-no-good-slave", "-failover-abort-slave-timeout",
	"+failover-state-send-slaveof-noone", "+failover-state-wait-promotion",
	"+failover-state-reconf-slaves",
}

// rawEvent is a message from a listener to the loop; lost reports that
// the listener's subscription ended (events may have been missed).
type rawEvent struct {
	from    string
	channel string
	payload string
	at      time.Time
	lost    bool
}

// listen keeps a subscription to one sentinel's events, reconnecting with
// backoff until ctx ends.
func (p *SentinelPool) listen(ctx context.Context, addr string) {
	backoff := core.Backoff{Min: 50 * time.Millisecond, Max: 2 * time.Second}
	for ctx.Err() == nil {
		start := time.Now()
		err := p.listenOnce(ctx, addr)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 10*time.Second {
			backoff.Reset()
		}
		p.log.Debug("sentinel: event subscription lost", "sentinel", addr, "err", err)
		select {
		case p.events <- rawEvent{from: addr, lost: true, at: time.Now()}:
		case <-ctx.Done():
			return
		}
		if backoff.Wait(ctx) != nil {
			return
		}
	}
}

const listenPing = time.Second

// listenOnce subscribes on a fresh connection and forwards messages until
// the connection fails. In subscribe mode a PING gets a "pong" message, so
// a silent sentinel is pinged and given up on after two quiet periods.
func (p *SentinelPool) listenOnce(ctx context.Context, addr string) error {
	nc, err := pool.DialStream(ctx, p.cfg.sentinelConfig(addr))
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	defer nc.Close()

	sub := []any{"SUBSCRIBE"}
	for _, ch := range channels {
		sub = append(sub, ch)
	}
	buf, _ := protocol.AppendCommand(nil, sub...)
	nc.SetWriteDeadline(time.Now().Add(p.cfg.SentinelTimeout))
	if _, err := nc.Write(buf); err != nil {
		return err
	}
	quiet := 0
	for {
		nc.SetReadDeadline(time.Now().Add(listenPing))
		v, err := nc.Reader.Read()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && quiet == 0 {
			quiet++
			ping, _ := protocol.AppendCommand(nil, "PING")
			nc.SetWriteDeadline(time.Now().Add(p.cfg.SentinelTimeout))
			if _, err := nc.Write(ping); err != nil {
				return err
			}
			// The bufio.Reader may hold a partial frame; a timeout mid-frame
			// leaves the stream unusable, so a second timeout ends it.
			continue
		}
		if err != nil {
			return err
		}
		quiet = 0
		if rerr := v.Err(); rerr != nil {
			return rerr // e.g. a refused SUBSCRIBE
		}
		m, ok := core.ParsePush(v)
		if !ok || m.Kind != "message" || len(v.Elems) != 3 {
			continue
		}
		select {
		case p.events <- rawEvent{from: addr, channel: m.Channel, payload: m.Payload, at: time.Now()}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// handleEvent turns a sentinel's message into the services' inputs; loop
// only.
func (p *SentinelPool) handleEvent(ev rawEvent) {
	if ev.lost {
		for _, s := range p.services {
			p.do(s, s.listenerLost())
		}
		return
	}
	f := strings.Fields(ev.payload)
	switch ev.channel {
	case "+switch-master":
		// <name> <old ip> <old port> <new ip> <new port>
		if len(f) != 5 {
			return
		}
		if s, ok := p.services[f[0]]; ok {
			addr := p.cfg.AddrMapper(net.JoinHostPort(f[3], f[4]))
			p.log.Info("sentinel: +switch-master", "name", s.name, "old", s.masterAddr, "new", addr, "from", ev.from)
			p.do(s, s.switchMaster(addr, ev.at))
		}
		// Published once acted on: a command issued after At is not
		// written to the old master.
		p.emit(Event{Kind: EventSwitchMaster, Name: f[0], Addr: net.JoinHostPort(f[3], f[4]),
			OldAddr: net.JoinHostPort(f[1], f[2]), Sentinel: ev.from, Payload: ev.payload, At: time.Now()})
	case "+sentinel":
		// sentinel <runid> <ip> <port> @ <name> <ip> <port>
		if len(f) >= 4 {
			addr := p.cfg.AddrMapper(net.JoinHostPort(f[2], f[3]))
			if p.set.add(addr) {
				p.emit(Event{Kind: EventSentinelAdded, Addr: addr, Sentinel: ev.from, Payload: ev.payload, At: ev.at})
				p.ensureListeners()
			}
		}
	default:
		// <type> <name> <ip> <port> @ <master-name> <master-ip> <master-port>
		p.emit(Event{Kind: ev.channel, Name: masterOf(f), Addr: instanceAddr(f), Sentinel: ev.from, Payload: ev.payload, At: ev.at})
		if s, ok := p.services[masterOf(f)]; ok && len(f) >= 4 {
			p.do(s, s.instanceEvent(ev.channel, f[0], p.cfg.AddrMapper(instanceAddr(f)), p.cfg.AddrMapper(masterAddrOf(f)), ev.from, ev.at))
		}
	}
}

// masterOf returns the master name of an instance event.
func masterOf(f []string) string {
	if len(f) >= 2 && f[0] == "master" {
		return f[1]
	}
	if i := slices.Index(f, "@"); i >= 0 && i+1 < len(f) {
		return f[i+1]
	}
	return ""
}

// masterAddrOf returns the address of the master an instance event
// concerns: the instance itself for a master, else the one after "@".
func masterAddrOf(f []string) string {
	if len(f) >= 4 && f[0] == "master" {
		return net.JoinHostPort(f[2], f[3])
	}
	if i := slices.Index(f, "@"); i >= 0 && i+3 < len(f) {
		return net.JoinHostPort(f[i+2], f[i+3])
	}
	return ""
}

func instanceAddr(f []string) string {
	if len(f) < 4 {
		return ""
	}
	return net.JoinHostPort(f[2], f[3])
}

// ensureListeners subscribes to events on up to Listeners sentinels; loop
// only.
func (p *SentinelPool) ensureListeners() {
	if len(p.services) == 0 {
		return
	}
	for _, addr := range p.set.known() {
		if len(p.listening) >= p.cfg.Listeners {
			return
		}
		if !p.listening[addr] && p.life.Go(func() { p.listen(p.ctx, addr) }) {
			p.listening[addr] = true
		}
	}
}
