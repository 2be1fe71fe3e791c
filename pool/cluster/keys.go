package cluster

import (
	"context"
	"strings"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// slotOf returns the slot of cmd's keys (anySlot for a keyless command),
// a *CrossSlotError when they span slots, or a *splitNeeded for the
// commands this client splits by slot.
func (c *Cluster) slotOf(cmd *core.Command) (int, error) {
	key, multi, ok := cmd.RouteKey()
	if !multi {
		if !ok {
			return anySlot, nil
		}
		return int(core.Slot(key)), nil
	}
	keys := cmd.Keys()
	if len(keys) == 0 {
		return anySlot, nil
	}
	first := core.Slot(keys[0])
	same := true
	for _, k := range keys[1:] {
		if core.Slot(k) != first {
			same = false
			break
		}
	}
	if same {
		return int(first), nil
	}
	upper := strings.ToUpper(string(cmd.Name()))
	if _, ok := splitters[upper]; ok {
		return 0, &splitNeeded{name: upper}
	}
	var slots []uint16
	seen := map[uint16]bool{}
	for _, k := range keys {
		if s := core.Slot(k); !seen[s] {
			seen[s] = true
			slots = append(slots, s)
		}
	}
	return 0, &CrossSlotError{Command: upper, Slots: slots}
}

// splitNeeded says that a multi-key command spans slots and is one this
// client splits.
type splitNeeded struct{ name string }

func (e *splitNeeded) Error() string { return "cluster: " + e.name + " spans slots" }

// splitters are the commands split by slot and how their parts' replies
// merge: MGET's values go back in key order; DEL, UNLINK, EXISTS and
// TOUCH add up their counts; MSET is OK when every part is (it is not
// atomic across slots).
var splitters = map[string]mergeKind{
	"MGET": mergeValues, "DEL": mergeSum, "UNLINK": mergeSum, "EXISTS": mergeSum, "TOUCH": mergeSum,
	"MSET": mergeOK,
}

type mergeKind uint8

const (
	mergeValues mergeKind = iota
	mergeSum
	mergeOK
)

// split sends one command per slot of cmd's keys and merges their
// replies into one for sink. Every splitter is NAME key... or NAME key
// value...; the parts' requests, sinks and key positions each share one
// allocation.
func (c *Cluster) split(ctx context.Context, cmd *core.Command, sink core.Sink, sp *splitNeeded) {
	kind := splitters[sp.name]
	all := parseAll(cmd.Buf)
	step := 1
	if kind == mergeOK {
		step = 2
	}
	nkeys := (len(all) - 1) / step
	groups, of := groupBySlot(all, step, nkeys)
	pos := make([]int, nkeys) // the keys' positions in the caller's order, group after group
	for gi, off := 0, 0; gi < len(groups); gi++ {
		groups[gi].off, off = off, off+groups[gi].n
		groups[gi].n = 0
	}
	for i, gi := range of {
		g := &groups[gi]
		pos[g.off+g.n] = i
		g.n++
	}
	parts := make([]part, len(groups))
	m := &merge{sink: sink, name: sp.name, kind: kind, left: len(groups), values: make([]protocol.Value, nkeys), parts: parts}
	reqs := make([]request, len(groups))
	subs := make([]*request, len(groups))
	for gi, g := range groups {
		idx := pos[g.off : g.off+g.n : g.off+g.n]
		sub := core.NewCommand()
		sub.Buf = protocol.AppendArrayHeader(sub.Buf, 1+len(idx)*step)
		sub.Buf = protocol.AppendBytes(sub.Buf, all[0])
		for _, i := range idx {
			for j := range step {
				sub.Buf = protocol.AppendBytes(sub.Buf, all[1+i*step+j])
			}
		}
		parts[gi] = part{m: m, idx: idx, slot: uint16(g.slot)}
		c.initRequest(&reqs[gi], ctx, sub, &parts[gi], g.slot)
		subs[gi] = &reqs[gi]
	}
	cmd.Release()
	c.submitAll(ctx, subs)
}

// slotGroup is the keys of one slot in a split: how many, and where
// their positions start.
type slotGroup struct{ slot, n, off int }

// groupBySlot groups the nkeys keys of all (NAME key... with step
// arguments per key) by slot, in order of first appearance, and returns
// the groups with their key counts and each key's group.
func groupBySlot(all [][]byte, step, nkeys int) ([]slotGroup, []int) {
	var groups []slotGroup
	var bySlot map[int]int // made once there are many groups
	of := make([]int, nkeys)
	for i := range nkeys {
		slot := int(core.Slot(all[1+i*step]))
		gi := -1
		if bySlot != nil {
			if j, ok := bySlot[slot]; ok {
				gi = j
			}
		} else {
			for j := range groups {
				if groups[j].slot == slot {
					gi = j
					break
				}
			}
		}
		if gi < 0 {
			gi = len(groups)
			groups = append(groups, slotGroup{slot: slot})
			if bySlot == nil && len(groups) > 16 {
				bySlot = make(map[int]int, nkeys)
				for j, g := range groups {
					bySlot[g.slot] = j
				}
			} else if bySlot != nil {
				bySlot[slot] = gi
			}
		}
		groups[gi].n++
		of[i] = gi
	}
	return groups, of
}

// parseAll splits an encoded command into its arguments (aliasing buf).
func parseAll(buf []byte) [][]byte {
	i := 0
	readInt := func() int {
		n := 0
		for i < len(buf) && buf[i] != '\r' {
			n = n*10 + int(buf[i]-'0')
			i++
		}
		i += 2
		return n
	}
	if len(buf) == 0 || buf[0] != '*' {
		return nil
	}
	i++
	n := readInt()
	out := make([][]byte, 0, min(n, len(buf)/4)) // each argument takes at least 4 bytes ($0\r\n)
	for range n {
		if i >= len(buf) || buf[i] != '$' {
			return out
		}
		i++
		l := readInt()
		if i+l > len(buf) {
			return out
		}
		out = append(out, buf[i:i+l])
		i += l + 2
	}
	return out
}
