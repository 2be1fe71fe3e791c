package pool

import (
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// A subscriber connection's subscription commands are written with
// NoReply and answered by confirmation pushes, or refused by one error
// reply that carries no sign of which command it answers. The connection
// keeps the commands it wrote that are not yet confirmed or refused (c.asks,
// in order), so that such an error is matched to its command and reported
// to OnPush as refusals (core.Ask), not taken as a reply nobody awaits
// (which would close the connection, and with it every subscription on
// it).

// pendingAsk is a subscription command written and not yet answered in
// full; before counts the replies owed, when it was written, to commands
// written before it (a server answers in order: an error reply is the
// ask's only once those came).
type pendingAsk struct {
	core.Ask
	before int
}

// noteAsk keeps cmd's ask, if it is a subscription command, for o's next
// flush; subscriber connections only.
func (c *Conn) noteAsk(o *outgoing, cmd *core.Command) {
	if c.kind != subscriber {
		return
	}
	if a, ok := core.AskOf(cmd.Buf); ok {
		o.asks = append(o.asks, pendingAsk{Ask: a, before: len(o.sinks)})
	}
}

// keepAsksLocked records o's asks as written, before o's sinks join
// pending; c.mu is held.
func (c *Conn) keepAsksLocked(o *outgoing) {
	for _, a := range o.asks {
		a.before += c.pending.len()
		c.asks = append(c.asks, a)
	}
}

// subscriberRead handles a value read on a subscriber connection: a push
// goes to OnPush once it is matched against the oldest ask, an error
// reply that answers the oldest ask becomes its refusals; anything else
// is a reply to a command awaiting one, returned for the caller to match
// (keep true).
func (c *Conn) subscriberRead(v protocol.Value) (keep bool) {
	if v.Kind == protocol.KindPush {
		if p, ok := core.ParsePush(v); ok && !p.IsMessage() {
			c.mu.Lock()
			if len(c.asks) > 0 {
				if ok, done := c.asks[0].Confirms(p.Kind, p.Channel); ok && done {
					c.popAskLocked()
				}
			}
			c.mu.Unlock()
		}
		if c.cfg.OnPush != nil {
			c.cfg.OnPush(v)
		}
		return false
	}
	c.mu.Lock()
	if len(c.asks) > 0 && c.asks[0].before == 0 && v.Kind == protocol.KindError {
		refused := c.asks[0].Refusals(v)
		c.popAskLocked()
		c.mu.Unlock()
		for _, r := range refused {
			if c.cfg.OnPush != nil {
				c.cfg.OnPush(r)
			}
		}
		return false
	}
	for i := range c.asks { // v answers a command written before them
		c.asks[i].before = max(c.asks[i].before-1, 0)
	}
	c.mu.Unlock()
	return true
}

func (c *Conn) popAskLocked() {
	c.asks[0] = pendingAsk{}
	c.asks = c.asks[1:]
	if len(c.asks) == 0 {
		c.asks = nil
	}
}
