package async

import (
	"time"

	"github.com/asyncredis/asyncredis/protocol"
)

// fields reads a map (or RESP2 flat array) into its values by name.
func fields(want string, v protocol.Value) (map[string]protocol.Value, error) {
	es, err := pairs(want, v)
	if err != nil {
		return nil, err
	}
	out := make(map[string]protocol.Value, len(es)/2)
	for i := 0; i+1 < len(es); i += 2 {
		k, err := ToString(es[i])
		if err != nil {
			return nil, err
		}
		out[k] = es[i+1]
	}
	return out, nil
}

// str and num read a field, zero when missing or of another type.
func str(f map[string]protocol.Value, k string) string {
	s, _ := ToString(f[k])
	return s
}

func num(f map[string]protocol.Value, k string) int64 {
	n, _ := ToInt64(f[k])
	return n
}

func toXPendingSummary(v protocol.Value) (XPendingSummary, error) {
	es, err := elems("XPendingSummary", v)
	if err != nil || len(es) != 4 {
		return XPendingSummary{}, typeErr("XPendingSummary", v)
	}
	s := XPendingSummary{Consumers: map[string]int64{}}
	if s.Count, err = ToInt64(es[0]); err != nil {
		return s, err
	}
	s.Lowest, _ = ToString(es[1]) // null when nothing is pending
	s.Highest, _ = ToString(es[2])
	for _, c := range es[3].Elems {
		if len(c.Elems) != 2 {
			return s, typeErr("XPendingSummary consumer", c)
		}
		name, err := ToString(c.Elems[0])
		if err != nil {
			return s, err
		}
		n, err := ToInt64(c.Elems[1]) // a bulk string holding the number
		if err != nil {
			return s, err
		}
		s.Consumers[name] = n
	}
	return s, nil
}

func toXPendingEntries(v protocol.Value) ([]XPendingEntry, error) {
	es, err := elems("[]XPendingEntry", v)
	if err != nil {
		return nil, err
	}
	out := make([]XPendingEntry, 0, len(es))
	for _, e := range es {
		if len(e.Elems) != 4 {
			return nil, typeErr("XPendingEntry", e)
		}
		id, err1 := ToString(e.Elems[0])
		consumer, err2 := ToString(e.Elems[1])
		idle, err3 := ToInt64(e.Elems[2])
		n, err4 := ToInt64(e.Elems[3])
		for _, err := range []error{err1, err2, err3, err4} {
			if err != nil {
				return nil, err
			}
		}
		out = append(out, XPendingEntry{ID: id, Consumer: consumer, Idle: time.Duration(idle) * time.Millisecond, Deliveries: n})
	}
	return out, nil
}

func toXAutoClaimed(v protocol.Value) (XAutoClaimed, error) {
	es, err := elems("XAutoClaimed", v)
	if err != nil || len(es) < 2 {
		return XAutoClaimed{}, typeErr("XAutoClaimed", v)
	}
	var r XAutoClaimed
	if r.Next, err = ToString(es[0]); err != nil {
		return r, err
	}
	if r.Messages, err = ToXMessages(es[1]); err != nil {
		return r, err
	}
	if len(es) > 2 {
		r.Deleted, err = ToStrings(es[2])
	}
	return r, err
}

func toXStreamInfo(v protocol.Value) (XStreamInfo, error) {
	f, err := fields("XStreamInfo", v)
	if err != nil {
		return XStreamInfo{}, err
	}
	info := XStreamInfo{Length: num(f, "length"), Groups: num(f, "groups"), LastGeneratedID: str(f, "last-generated-id")}
	for k, dst := range map[string]**XMessage{"first-entry": &info.FirstEntry, "last-entry": &info.LastEntry} {
		if e, ok := f[k]; ok && e.Kind != protocol.KindNull {
			m, err := toXMessage(e)
			if err != nil {
				return info, err
			}
			*dst = &m
		}
	}
	return info, nil
}

// each reads an array of maps with one.
func each[T any](want string, v protocol.Value, one func(map[string]protocol.Value) T) ([]T, error) {
	es, err := elems(want, v)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(es))
	for _, e := range es {
		f, err := fields(want, e)
		if err != nil {
			return nil, err
		}
		out = append(out, one(f))
	}
	return out, nil
}

func toXGroupInfos(v protocol.Value) ([]XGroupInfo, error) {
	return each("[]XGroupInfo", v, func(f map[string]protocol.Value) XGroupInfo {
		return XGroupInfo{Name: str(f, "name"), Consumers: num(f, "consumers"), Pending: num(f, "pending"), LastDeliveredID: str(f, "last-delivered-id")}
	})
}

func toXConsumerInfos(v protocol.Value) ([]XConsumerInfo, error) {
	return each("[]XConsumerInfo", v, func(f map[string]protocol.Value) XConsumerInfo {
		return XConsumerInfo{Name: str(f, "name"), Pending: num(f, "pending"), Idle: time.Duration(num(f, "idle")) * time.Millisecond}
	})
}
