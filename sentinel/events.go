package sentinel

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"time"

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
)

// Event is one topology change, for event-driven workers.
type Event struct {
	Kind     string    // one of the constants above, or a sentinel channel name
	Name     string    // the service (master name), when known
	Addr     string    // the instance concerned (the new master for switches)
	OldAddr  string    // the previous master, for switches and master changes
	Addrs    []string  // the replicas, for EventReplicasChanged
	Sentinel string    // the sentinel that announced it, if any
	Payload  string    // the sentinel's message as sent
	At       time.Time // when it was received or decided
}

// channels are the sentinel event channels the pool subscribes to.
var channels = []string{
	"+switch-master", "+sdown", "-sdown", "+odown", "-odown", "+slave", "+convert-to-slave",
	"+reboot", "+sentinel", "+failover-end", "+selected-slave", "+promoted-slave",
}

// rawEvent is a message from a listener to the loop.
type rawEvent struct {
	from    string
	channel string
	payload string
	at      time.Time
}

// listen keeps a subscription to one sentinel's events, reconnecting with
// backoff until the pool closes.
func (p *SentinelPool) listen(addr string) {
	defer p.wg.Done()
	backoff := 50 * time.Millisecond
	for p.ctx.Err() == nil {
		start := time.Now()
		err := p.listenOnce(addr)
		if p.ctx.Err() != nil {
			return
		}
		if time.Since(start) > 10*time.Second {
			backoff = 50 * time.Millisecond
		}
		p.log.Debug("sentinel: event subscription lost", "sentinel", addr, "err", err)
		wait := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		backoff = min(2*backoff, 2*time.Second)
		select {
		case <-time.After(wait):
		case <-p.ctx.Done():
			return
		}
	}
}

const listenPing = time.Second

// listenOnce subscribes on a fresh connection and forwards messages until
// the connection fails. In subscribe mode a PING gets a "pong" message, so
// a silent sentinel is pinged and given up on after two quiet periods.
func (p *SentinelPool) listenOnce(addr string) error {
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.SentinelTimeout)
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err == nil && p.cfg.SentinelTLS != nil {
		tc := p.cfg.SentinelTLS.Clone()
		if tc.ServerName == "" {
			tc.ServerName, _, _ = net.SplitHostPort(addr)
		}
		tlsConn := tls.Client(nc, tc)
		if err = tlsConn.HandshakeContext(ctx); err != nil {
			nc.Close()
		}
		nc = tlsConn
	}
	cancel()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(p.ctx, func() { nc.Close() })
	defer stop()
	defer nc.Close()
	rd := protocol.NewReader(bufio.NewReader(nc), protocol.Limits{MaxBulkLen: 1 << 20})

	var buf []byte
	if p.cfg.SentinelPassword != "" {
		args := []any{"AUTH", p.cfg.SentinelPassword}
		if p.cfg.SentinelUsername != "" {
			args = []any{"AUTH", p.cfg.SentinelUsername, p.cfg.SentinelPassword}
		}
		buf, _ = protocol.AppendCommand(buf, args...)
	}
	sub := []any{"SUBSCRIBE"}
	for _, ch := range channels {
		sub = append(sub, ch)
	}
	buf, _ = protocol.AppendCommand(buf, sub...)
	nc.SetWriteDeadline(time.Now().Add(p.cfg.SentinelTimeout))
	if _, err := nc.Write(buf); err != nil {
		return err
	}
	quiet := 0
	for {
		nc.SetReadDeadline(time.Now().Add(listenPing))
		v, err := rd.Read()
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
			return rerr // e.g. a wrong sentinel password
		}
		if v.Kind != protocol.KindArray && v.Kind != protocol.KindPush || len(v.Elems) != 3 {
			continue
		}
		if v.Elems[0].Str != "message" {
			continue
		}
		ev := rawEvent{from: addr, channel: v.Elems[1].Str, payload: v.Elems[2].Str, at: time.Now()}
		if ev.channel == "+switch-master" {
			if f := strings.Fields(ev.payload); len(f) == 5 {
				p.switchNow(f[0], p.cfg.AddrMapper(net.JoinHostPort(f[3], f[4])))
			}
		}
		select {
		case p.events <- ev:
		case <-p.ctx.Done():
			return p.ctx.Err()
		}
	}
}
