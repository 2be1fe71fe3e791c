package core

import (
	"bytes"
	"strings"

	"github.com/asyncredis/asyncredis/protocol"
)

// Subscription commands (SUBSCRIBE, SSUBSCRIBE, PSUBSCRIBE and their
// UN- forms) are sent with NoReply: the server answers each name with a
// confirmation push, or refuses the whole command with one error reply
// (an ACL that denies a channel, CLUSTERDOWN, MOVED, ...). A subscriber
// connection matches such an error to the command it answers and reports
// it to its onPush as a refusal, one per name: the confirmation push with
// the server's error in place of the subscription count. RefusalOf tells
// the two apart.

// Ask is what a subscription command written on a subscriber connection
// waits for: a confirmation push of Kind (its name in lower case) per
// name, in order; All for an unsubscribe with no names, which the server
// confirms once per subscription it drops.
type Ask struct {
	Kind  string
	Names []string
	All   bool
}

// AskOf returns the Ask of an encoded subscription command, or false for
// any other command.
func AskOf(buf []byte) (Ask, bool) {
	args := parseArgs(buf)
	if len(args) == 0 || !isSubscription(args[0]) {
		return Ask{}, false
	}
	a := Ask{Kind: strings.ToLower(string(args[0])), All: len(args) == 1}
	for _, name := range args[1:] {
		a.Names = append(a.Names, string(name))
	}
	return a, true
}

func isSubscription(name []byte) bool {
	for _, s := range []string{"SUBSCRIBE", "SSUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "SUNSUBSCRIBE", "PUNSUBSCRIBE"} {
		if bytes.EqualFold(name, []byte(s)) {
			return true
		}
	}
	return false
}

// Confirms reports whether push (its kind already in lower case, as Redis
// sends it) is the next confirmation a expects, and takes it off a.
// It reports done when a expects nothing more.
func (a *Ask) Confirms(kind, name string) (ok, done bool) {
	if kind != a.Kind {
		return false, false
	}
	if a.All {
		return true, true // the first of them: what follows is not refused any more
	}
	if len(a.Names) == 0 || a.Names[0] != name {
		return false, false
	}
	a.Names = a.Names[1:]
	return true, len(a.Names) == 0
}

// Refusals returns the refusal pushes of a refused by the error reply
// reply: one per name not yet confirmed (one with no name for All).
func (a Ask) Refusals(reply protocol.Value) []protocol.Value {
	msg := protocol.Value{Kind: protocol.KindError, Str: strings.Clone(reply.Str)}
	names := a.Names
	if a.All {
		names = []string{""}
	}
	out := make([]protocol.Value, len(names))
	for i, name := range names {
		out[i] = protocol.Value{Kind: protocol.KindPush, Elems: []protocol.Value{
			{Kind: protocol.KindBulkString, Str: a.Kind}, {Kind: protocol.KindBulkString, Str: name}, msg}}
	}
	return out
}

// RefusalOf returns the server's error if push is a refusal (see Ask),
// else nil.
func RefusalOf(push protocol.Value) error {
	if len(push.Elems) < 3 {
		return nil
	}
	return push.Elems[2].Err()
}

// Push is a pub/sub push frame, read once by ParsePush for every layer
// that looks at one (a subscriber connection matching confirmations, the
// cluster's subscriber set, the typed PubSub).
type Push struct {
	Kind    string // lower case: "message", "smessage", "pmessage", "subscribe", "sunsubscribe", ...
	Channel string // the channel, or for a confirmation the channel or pattern
	Pattern string // for "pmessage"
	Payload string // for messages
	Refused error  // for a refusal (see Ask): the server's error
}

// ParsePush reads v, or reports false if it is not a push of at least a
// kind and a name. An array is read as a push too: over RESP2 a
// subscribed connection receives its pushes as arrays.
func ParsePush(v protocol.Value) (Push, bool) {
	if v.Kind != protocol.KindPush && v.Kind != protocol.KindArray || len(v.Elems) < 2 {
		return Push{}, false
	}
	p := Push{Kind: v.Elems[0].Str, Channel: v.Elems[1].Str}
	if !isLower(p.Kind) {
		p.Kind = strings.ToLower(p.Kind)
	}
	switch p.Kind {
	case "message", "smessage":
		if len(v.Elems) >= 3 {
			p.Payload = v.Elems[2].Str
		}
	case "pmessage":
		if len(v.Elems) >= 4 {
			p.Pattern, p.Channel, p.Payload = v.Elems[1].Str, v.Elems[2].Str, v.Elems[3].Str
		}
	default:
		p.Refused = RefusalOf(v)
	}
	return p, true
}

// IsMessage reports whether p is a published message (not a
// confirmation or a refusal).
func (p Push) IsMessage() bool {
	return p.Kind == "message" || p.Kind == "smessage" || p.Kind == "pmessage"
}

func isLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return false
		}
	}
	return true
}
