package async

import (
	"context"
	"time"

	"github.com/asyncredis/asyncredis/protocol"
)

// XMessage is one stream entry.
type XMessage struct {
	ID     string
	Values map[string]string
}

// XStream is the entries XREAD or XREADGROUP returned for one stream.
type XStream struct {
	Stream   string
	Messages []XMessage
}

// XAddArgs are XADD's options: a trim (MaxLen or MinID, approximate with
// Approx), NoMkStream, and the ID ("" for "*", the server's choice).
type XAddArgs struct {
	ID         string
	MaxLen     int64
	MinID      string
	Approx     bool
	NoMkStream bool
}

func trimArgs(args []any, maxLen int64, minID string, approx bool) []any {
	op := "="
	if approx {
		op = "~"
	}
	switch {
	case maxLen > 0:
		args = append(args, "MAXLEN", op, maxLen)
	case minID != "":
		args = append(args, "MINID", op, minID)
	}
	return args
}

// XAdd appends an entry of alternating fields and values to stream key
// and returns its ID; ErrNil with NoMkStream when the stream is missing.
func (c *Client) XAdd(ctx context.Context, key string, a XAddArgs, pairs ...any) *Future[string] {
	args := []any{"XADD", key}
	if a.NoMkStream {
		args = append(args, "NOMKSTREAM")
	}
	args = trimArgs(args, a.MaxLen, a.MinID, a.Approx)
	id := a.ID
	if id == "" {
		id = "*"
	}
	return Cmd(ctx, c, ToString, append(append(args, id), pairs...)...)
}

// XLen returns the number of entries in stream key.
func (c *Client) XLen(ctx context.Context, key string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "XLEN", key)
}

// XRange returns the entries with IDs from start to end ("-" and "+" for
// the ends), at most count of them (0: all).
func (c *Client) XRange(ctx context.Context, key, start, end string, count int64) *Future[[]XMessage] {
	return Cmd(ctx, c, ToXMessages, withCount([]any{"XRANGE", key, start, end}, count)...)
}

// XRevRange is XRange from end down to start.
func (c *Client) XRevRange(ctx context.Context, key, end, start string, count int64) *Future[[]XMessage] {
	return Cmd(ctx, c, ToXMessages, withCount([]any{"XREVRANGE", key, end, start}, count)...)
}

func withCount(args []any, count int64) []any {
	if count > 0 {
		args = append(args, "COUNT", count)
	}
	return args
}

// XDel deletes entries by ID and returns how many existed.
func (c *Client) XDel(ctx context.Context, key string, ids ...string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, withKeys("XDEL", ids, key)...)
}

// XTrim trims stream key to MaxLen entries or to IDs from MinID on; it
// returns how many entries it removed.
func (c *Client) XTrim(ctx context.Context, key string, maxLen int64, minID string, approx bool) *Future[int64] {
	return Cmd(ctx, c, ToInt64, trimArgs([]any{"XTRIM", key}, maxLen, minID, approx)...)
}

// XReadArgs are XREAD's: Streams and the ID to read after in each ("$":
// only new entries; "0": from the start), Count, and Block (0: do not
// block; negative: block until an entry arrives).
type XReadArgs struct {
	Streams map[string]string
	Count   int64
	Block   time.Duration
}

func (a XReadArgs) args(args []any) []any {
	args = withCount(args, a.Count)
	if a.Block != 0 {
		args = append(args, "BLOCK", max(a.Block.Milliseconds(), 0))
	}
	args = append(args, "STREAMS")
	ids := make([]any, 0, len(a.Streams))
	for k, id := range a.Streams {
		args = append(args, k)
		ids = append(ids, id)
	}
	return append(args, ids...)
}

// XRead reads entries from the streams; ErrNil when a blocking read timed
// out. A blocking read runs on a connection of its own: cancelling its
// context loses nothing (XREAD consumes nothing).
func (c *Client) XRead(ctx context.Context, a XReadArgs) *Future[[]XStream] {
	return command(c, ctx, ToXStreams, a.Block != 0, a.args([]any{"XREAD"})...)
}

// XReadGroup reads entries as consumer of group (IDs ">" for entries never
// delivered, "0" for the consumer's pending ones); noAck skips the
// pending list. Entries delivered to a read whose context ended stay
// pending for the consumer: XPending, XClaim and XAutoClaim find them.
func (c *Client) XReadGroup(ctx context.Context, group, consumer string, a XReadArgs, noAck bool) *Future[[]XStream] {
	args := []any{"XREADGROUP", "GROUP", group, consumer}
	if noAck {
		args = append(args, "NOACK")
	}
	return command(c, ctx, ToXStreams, a.Block != 0, a.args(args)...)
}

// XAck acknowledges entries of group; returns how many were pending.
func (c *Client) XAck(ctx context.Context, key, group string, ids ...string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, withKeys("XACK", ids, key, group)...)
}

// XGroupCreate creates group on stream key, reading after id ("$": new
// entries only); mkStream creates the stream if missing.
func (c *Client) XGroupCreate(ctx context.Context, key, group, id string, mkStream bool) *Future[string] {
	args := []any{"XGROUP", "CREATE", key, group, id}
	if mkStream {
		args = append(args, "MKSTREAM")
	}
	return Cmd(ctx, c, ToStatus, args...)
}

// XGroupDestroy removes group; reports whether it existed.
func (c *Client) XGroupDestroy(ctx context.Context, key, group string) *Future[bool] {
	return Cmd(ctx, c, ToBool, "XGROUP", "DESTROY", key, group)
}

// XGroupSetID moves group's last delivered ID.
func (c *Client) XGroupSetID(ctx context.Context, key, group, id string) *Future[string] {
	return Cmd(ctx, c, ToStatus, "XGROUP", "SETID", key, group, id)
}

// XGroupCreateConsumer adds consumer to group; reports whether it was new.
func (c *Client) XGroupCreateConsumer(ctx context.Context, key, group, consumer string) *Future[bool] {
	return Cmd(ctx, c, ToBool, "XGROUP", "CREATECONSUMER", key, group, consumer)
}

// XGroupDelConsumer removes consumer and returns how many entries it had
// pending.
func (c *Client) XGroupDelConsumer(ctx context.Context, key, group, consumer string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "XGROUP", "DELCONSUMER", key, group, consumer)
}

// XPendingSummary is XPENDING's summary form.
type XPendingSummary struct {
	Count           int64
	Lowest, Highest string
	Consumers       map[string]int64
}

// XPending summarizes group's pending entries.
func (c *Client) XPending(ctx context.Context, key, group string) *Future[XPendingSummary] {
	return Cmd(ctx, c, toXPendingSummary, "XPENDING", key, group)
}

// XPendingEntry is one entry of XPENDING's extended form.
type XPendingEntry struct {
	ID         string
	Consumer   string
	Idle       time.Duration
	Deliveries int64
}

// XPendingRange lists up to count pending entries of group with IDs from
// start to end, idle at least minIdle, of consumer when it is not "".
func (c *Client) XPendingRange(ctx context.Context, key, group string, minIdle time.Duration, start, end string, count int64, consumer string) *Future[[]XPendingEntry] {
	args := []any{"XPENDING", key, group}
	if minIdle > 0 {
		args = append(args, "IDLE", minIdle.Milliseconds())
	}
	args = append(args, start, end, count)
	if consumer != "" {
		args = append(args, consumer)
	}
	return Cmd(ctx, c, toXPendingEntries, args...)
}

// XClaim gives consumer the entries among ids idle at least minIdle and
// returns them.
func (c *Client) XClaim(ctx context.Context, key, group, consumer string, minIdle time.Duration, ids ...string) *Future[[]XMessage] {
	return Cmd(ctx, c, ToXMessages, withKeys("XCLAIM", ids, key, group, consumer, minIdle.Milliseconds())...)
}

// XAutoClaimed is XAUTOCLAIM's reply: where to go on, what was claimed,
// and the IDs that no longer exist (deleted while pending).
type XAutoClaimed struct {
	Next     string
	Messages []XMessage
	Deleted  []string
}

// XAutoClaim gives consumer up to count pending entries idle at least
// minIdle, scanning from start ("0-0" first, then Next).
func (c *Client) XAutoClaim(ctx context.Context, key, group, consumer string, minIdle time.Duration, start string, count int64) *Future[XAutoClaimed] {
	return Cmd(ctx, c, toXAutoClaimed, withCount([]any{"XAUTOCLAIM", key, group, consumer, minIdle.Milliseconds(), start}, count)...)
}

// XStreamInfo is XINFO STREAM's reply.
type XStreamInfo struct {
	Length, Groups  int64
	LastGeneratedID string
	FirstEntry      *XMessage
	LastEntry       *XMessage
}

// XInfoStream describes stream key.
func (c *Client) XInfoStream(ctx context.Context, key string) *Future[XStreamInfo] {
	return Cmd(ctx, c, toXStreamInfo, "XINFO", "STREAM", key)
}

// XGroupInfo is one group of XINFO GROUPS.
type XGroupInfo struct {
	Name            string
	Consumers       int64
	Pending         int64
	LastDeliveredID string
}

// XInfoGroups lists the groups of stream key.
func (c *Client) XInfoGroups(ctx context.Context, key string) *Future[[]XGroupInfo] {
	return Cmd(ctx, c, toXGroupInfos, "XINFO", "GROUPS", key)
}

// XConsumerInfo is one consumer of XINFO CONSUMERS.
type XConsumerInfo struct {
	Name    string
	Pending int64
	Idle    time.Duration
}

// XInfoConsumers lists the consumers of group.
func (c *Client) XInfoConsumers(ctx context.Context, key, group string) *Future[[]XConsumerInfo] {
	return Cmd(ctx, c, toXConsumerInfos, "XINFO", "CONSUMERS", key, group)
}

// ToXMessages reads an array of stream entries ([id, [field, value ...]]);
// entries deleted while pending (XCLAIM) come as nulls and are left out.
func ToXMessages(v protocol.Value) ([]XMessage, error) {
	es, err := elems("[]XMessage", v)
	if err != nil {
		return nil, err
	}
	out := make([]XMessage, 0, len(es))
	for _, e := range es {
		if e.Kind == protocol.KindNull {
			continue
		}
		m, err := toXMessage(e)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func toXMessage(v protocol.Value) (XMessage, error) {
	es, err := elems("XMessage", v)
	if err != nil || len(es) != 2 {
		return XMessage{}, typeErr("XMessage", v)
	}
	id, err := ToString(es[0])
	if err != nil {
		return XMessage{}, err
	}
	m := XMessage{ID: id}
	if es[1].Kind != protocol.KindNull {
		if m.Values, err = ToStringMap(es[1]); err != nil {
			return XMessage{}, err
		}
	}
	return m, nil
}

// ToXStreams reads XREAD's reply: a map (RESP3) or an array (RESP2) of
// streams and their entries; ErrNil for a null (a blocking read that
// timed out).
func ToXStreams(v protocol.Value) ([]XStream, error) {
	if v.Kind == protocol.KindNull {
		return nil, ErrNil
	}
	var flat []protocol.Value
	if v.Kind == protocol.KindMap {
		flat = v.Elems
	} else {
		es, err := elems("[]XStream", v)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if len(e.Elems) != 2 {
				return nil, typeErr("XStream", e)
			}
			flat = append(flat, e.Elems...)
		}
	}
	out := make([]XStream, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		name, err := ToString(flat[i])
		if err != nil {
			return nil, err
		}
		msgs, err := ToXMessages(flat[i+1])
		if err != nil {
			return nil, err
		}
		out = append(out, XStream{Stream: name, Messages: msgs})
	}
	return out, nil
}
