package async

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// Message kinds besides Redis' own ("message", "pmessage", "smessage",
// "subscribe", "psubscribe", "ssubscribe", "unsubscribe", ...).
const (
	// KindDisconnected reports that the subscription connection was lost;
	// messages published until KindResubscribed may be missed. Err says
	// why. On a cluster, only the channels of the node that was lost (or
	// gave up their slot) miss them: the others' connections are kept
	// (core.SubSuccessor).
	KindDisconnected = "disconnected"
	// KindResubscribed reports that every subscription was restored on a
	// new connection (after a reconnect or a failover).
	KindResubscribed = "resubscribed"
	// KindRefused reports a subscription the server refused when it was
	// made again after a reconnect (an ACL changed meanwhile, say): Channel
	// names it, Err is the server's reply, and it is no longer asked for.
	// A refusal of a Subscribe call is that call's error instead.
	KindRefused = "refused"
)

// Message is one pub/sub delivery or event.
type Message struct {
	Kind    string
	Channel string // the channel (for confirmations: the channel or pattern)
	Pattern string // for "pmessage"
	Payload string
	Err     error // for KindDisconnected and KindRefused
}

// PubSubConfig configures Client.PubSub.
type PubSubConfig struct {
	// Buffer is the capacity of the Messages channel; default 1024. When
	// the reader falls behind and it is full, new messages are dropped
	// (counted by Dropped): the connection's reader never waits for a slow
	// consumer and memory stays bounded. KindDisconnected and
	// KindResubscribed are never dropped: with the buffer full they take
	// the oldest message's place (that one counts as dropped).
	Buffer int
	// ShowConfirmations delivers (un)subscribe confirmations on Messages.
	ShowConfirmations bool
}

// PubSub is a subscriber: Subscribe, PSubscribe and SSubscribe add
// subscriptions on a dedicated RESP3 connection, and messages arrive on
// Messages and on per-channel handlers. When the connection is lost it
// reconnects with backoff (to the new master, through a sentinel client)
// and subscribes to everything again, reporting the gap as
// KindDisconnected and KindResubscribed messages; on a cluster client the
// connections to the nodes that are still fine are kept through that,
// and their channels miss nothing (core.SubSuccessor). Close releases
// everything and closes Messages.
type PubSub struct {
	src  core.SubscriberSource
	cfg  PubSubConfig
	msgs chan Message // written by the connection's reader (never blocking) and the owner; closed by the owner on Close

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the owner goroutine

	// orderMu orders what is sent on the connection (attach's
	// subscriptions, change's (un)subscribes) with the changes of subs it
	// sends, without holding mu while an executor may dial: the
	// connection's reader takes mu for every message.
	orderMu  sync.Mutex
	mu       sync.Mutex                   // guards the fields below
	subs     core.Subscriptions[struct{}] // what is wanted (by set: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE) and the confirmations awaited
	handlers map[string]func(Message)
	conn     core.SubConn
	up       chan struct{} // closed when conn is set; replaced when lost
	fatal    error         // why the owner gave up; set once, before failed is closed

	failed chan struct{} // closed by the owner when it gives up on a permanent error

	sendMu  sync.Mutex // held by whoever sends on msgs (deliver)
	dropped atomic.Int64
}

// ErrNoPubSub is returned when the client's executor cannot open pub/sub
// connections.
var ErrNoPubSub = errors.New("async: executor cannot open pub/sub connections")

// PubSub starts a subscriber with no subscriptions. It connects in the
// background.
func (c *Client) PubSub(cfg PubSubConfig) (*PubSub, error) {
	src, ok := c.ex.(core.SubscriberSource)
	if !ok {
		return nil, ErrNoPubSub
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 1024
	}
	ctx, cancel := context.WithCancel(context.Background())
	ps := &PubSub{
		src: src, cfg: cfg, msgs: make(chan Message, cfg.Buffer), ctx: ctx, cancel: cancel,
		handlers: map[string]func(Message){},
		up:       make(chan struct{}),
		failed:   make(chan struct{}),
	}
	ps.wg.Add(1)
	go ps.own()
	return ps, nil
}

// Messages delivers messages (and, if configured, confirmations and the
// connection events). It is closed by Close.
func (ps *PubSub) Messages() <-chan Message { return ps.msgs }

// Dropped counts messages dropped because Messages was full.
func (ps *PubSub) Dropped() int64 { return ps.dropped.Load() }

// Handle calls fn, on the connection's reader goroutine, for every message
// on channel (or matching pattern); fn must not block. Such messages are
// not sent to Messages.
func (ps *PubSub) Handle(channelOrPattern string, fn func(Message)) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.handlers[channelOrPattern] = fn
}

func (ps *PubSub) deliver(m Message) {
	ps.sendMu.Lock()
	defer ps.sendMu.Unlock()
	select {
	case ps.msgs <- m:
		return
	default:
	}
	if m.Kind != KindDisconnected && m.Kind != KindResubscribed {
		ps.dropped.Add(1)
		return
	}
	// The news that messages may have been missed must not be missed
	// itself: it takes the oldest message's place. Only senders hold
	// sendMu, so the slot stays free for it.
	select {
	case <-ps.msgs:
		ps.dropped.Add(1)
	default: // the consumer took one meanwhile
	}
	ps.msgs <- m
}

// onPush runs on the connection's reader goroutine.
func (ps *PubSub) onPush(v protocol.Value) {
	p, ok := core.ParsePush(v)
	if !ok {
		return
	}
	m := Message{Kind: p.Kind, Channel: p.Channel, Pattern: p.Pattern, Payload: p.Payload}
	if !p.IsMessage() { // confirmations and refusals (core.Ask)
		ps.confirmed(m, p.Refused)
		return
	}
	ps.mu.Lock()
	h := ps.handlers[m.Channel]
	if m.Pattern != "" {
		h = ps.handlers[m.Pattern]
	}
	ps.mu.Unlock()
	if h != nil {
		h(m)
		return
	}
	ps.deliver(m)
}

// confirmed answers the Subscribe calls waiting for m's confirmation,
// or, when the server refused it, fails them with refused and forgets
// the subscription (a refusal no call waits for, one made again after a
// reconnect, is delivered as KindRefused).
func (ps *PubSub) confirmed(m Message, refused error) {
	set := subscriptionSet(strings.ToUpper(m.Kind))
	unsubscribe := strings.Contains(m.Kind, "unsubscribe")
	waiting := 0
	ps.mu.Lock()
	switch {
	case !unsubscribe:
		waiting = ps.subs.Answered(set, m.Channel, refused)
	case refused != nil:
		ps.subs.Drop(set, m.Channel)
	}
	ps.mu.Unlock()
	switch {
	case refused != nil && waiting == 0 && !unsubscribe:
		ps.deliver(Message{Kind: KindRefused, Channel: m.Channel, Err: refused})
	case refused == nil && ps.cfg.ShowConfirmations:
		ps.deliver(m)
	}
}

// change adds or removes subscriptions and, when subscribing, waits until
// the server confirms each one (or ctx ends). Without a connection the
// change is recorded and applied on connect; Subscribe then waits for it.
func (ps *PubSub) change(ctx context.Context, cmd string, add bool, names []string) error {
	if ctx == nil {
		return ErrNilContext
	}
	if ps.ctx.Err() != nil {
		return ErrPubSubClosed
	}
	if err := ps.failure(); err != nil {
		return err
	}
	set := subscriptionSet(cmd)
	if add && len(names) == 0 {
		return nil // nothing to subscribe (the server would refuse a command without names)
	}
	var waits []<-chan error
	ps.orderMu.Lock()
	ps.mu.Lock()
	if !add && len(names) == 0 {
		ps.subs.DropSet(set) // no names: every one, as Redis does, so none comes back after a reconnect
	}
	for _, n := range names {
		if add {
			waits = append(waits, ps.subs.Want(set, n))
		} else {
			ps.subs.Drop(set, n)
		}
	}
	conn := ps.conn
	ps.mu.Unlock()
	var sent *Future[string]
	if conn != nil {
		args := []any{cmd}
		for _, n := range names {
			args = append(args, n)
		}
		sent = sendNoReply(ctx, conn, args)
	}
	ps.orderMu.Unlock()
	if sent != nil {
		// An error means the connection is going; the owner subscribes
		// again on the next one, and the confirmation wait covers that.
		_ = sent.Err()
	}
	return ps.await(ctx, waits)
}

// await waits for each confirmation of waits: the first refusal, the
// owner giving up, or ctx's end is the error.
func (ps *PubSub) await(ctx context.Context, waits []<-chan error) error {
	for _, w := range waits {
		select {
		case err := <-w:
			if err != nil {
				return err
			}
		case <-ps.failed:
			return ps.failure()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// subscriptionSet names the set of subs that cmd changes.
func subscriptionSet(cmd string) string {
	switch cmd {
	case "PSUBSCRIBE", "PUNSUBSCRIBE":
		return "PSUBSCRIBE"
	case "SSUBSCRIBE", "SUNSUBSCRIBE":
		return "SSUBSCRIBE"
	}
	return "SUBSCRIBE"
}

// failure returns the permanent error the subscriber gave up on, if any.
func (ps *PubSub) failure() error {
	select {
	case <-ps.failed:
		ps.mu.Lock()
		defer ps.mu.Unlock()
		return ps.fatal
	default:
		return nil
	}
}

// ErrPubSubClosed is returned by calls on a closed PubSub.
var ErrPubSubClosed = errors.New("async: pub/sub closed")

// Subscribe subscribes to channels and returns once the server confirmed
// them.
func (ps *PubSub) Subscribe(ctx context.Context, channels ...string) error {
	return ps.change(ctx, "SUBSCRIBE", true, channels)
}

// PSubscribe subscribes to patterns.
func (ps *PubSub) PSubscribe(ctx context.Context, patterns ...string) error {
	return ps.change(ctx, "PSUBSCRIBE", true, patterns)
}

// SSubscribe subscribes to shard channels.
func (ps *PubSub) SSubscribe(ctx context.Context, channels ...string) error {
	return ps.change(ctx, "SSUBSCRIBE", true, channels)
}

// Unsubscribe drops channel subscriptions.
func (ps *PubSub) Unsubscribe(ctx context.Context, channels ...string) error {
	return ps.change(ctx, "UNSUBSCRIBE", false, channels)
}

// PUnsubscribe drops pattern subscriptions.
func (ps *PubSub) PUnsubscribe(ctx context.Context, patterns ...string) error {
	return ps.change(ctx, "PUNSUBSCRIBE", false, patterns)
}

// SUnsubscribe drops shard channel subscriptions.
func (ps *PubSub) SUnsubscribe(ctx context.Context, channels ...string) error {
	return ps.change(ctx, "SUNSUBSCRIBE", false, channels)
}

// Close unsubscribes by closing the connection, stops reconnecting, waits
// for the owner goroutine and closes Messages. Idempotent.
func (ps *PubSub) Close() error {
	ps.cancel()
	ps.wg.Wait()
	return nil
}
