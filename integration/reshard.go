package integration

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// MoveSlots moves slots from one master to another as redis-cli
// --cluster reshard does, a batch at a time: the slots are set
// IMPORTING on the target and MIGRATING on the source, their keys are
// MIGRATEd, and they are given to the target on it, then on the source,
// then on the other masters. Keys written during the move follow it
// (ASK), as in production. Each step is one pipeline per node, so a
// batch costs a few round trips even on a busy server.
func (rc *RedisCluster) MoveSlots(ctx context.Context, slots []int, from, to *Node) error {
	fromID, err := rc.ID(ctx, from)
	if err != nil {
		return err
	}
	toID, err := rc.ID(ctx, to)
	if err != nil {
		return err
	}
	conns := map[*Node]*respConn{}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for _, n := range append([]*Node{from, to}, rc.Masters...) {
		if _, ok := conns[n]; ok || n.State() != Running {
			continue
		}
		c, err := dialRESP(ctx, n.Addr(), nil, n.username, n.password)
		if err != nil {
			return err
		}
		conns[n] = c
	}
	setslot := func(state, id string) [][]string {
		cmds := make([][]string, len(slots))
		for i, s := range slots {
			cmds[i] = []string{"CLUSTER", "SETSLOT", strconv.Itoa(s), state, id}
		}
		return cmds
	}
	if err := conns[to].pipeline(ctx, setslot("IMPORTING", fromID)); err != nil {
		return fmt.Errorf("integration: importing on %s: %w", to.Name, err)
	}
	if err := conns[from].pipeline(ctx, setslot("MIGRATING", toID)); err != nil {
		return fmt.Errorf("integration: migrating on %s: %w", from.Name, err)
	}
	if err := migrateKeys(ctx, conns[from], slots, to); err != nil {
		return err
	}
	// The target first, then the source, as redis-cli does: the source
	// then answers MOVED to a node that already owns the slot.
	for _, n := range []*Node{to, from} {
		if err := conns[n].pipeline(ctx, setslot("NODE", toID)); err != nil {
			return fmt.Errorf("integration: slots to %s on %s: %w", to.Name, n.Name, err)
		}
	}
	for n, c := range conns {
		if n != from && n != to {
			// The others would learn it from gossip; telling them saves a
			// round of MOVED. A refusal is left to gossip.
			_ = c.pipeline(ctx, setslot("NODE", toID))
		}
	}
	return nil
}

// migrateKeys moves every key of slots from the node behind conn to to.
func migrateKeys(ctx context.Context, conn *respConn, slots []int, to *Node) error {
	left := slots
	for len(left) > 0 {
		var cmds [][]string
		for _, s := range left {
			cmds = append(cmds, []string{"CLUSTER", "GETKEYSINSLOT", strconv.Itoa(s), "1000"})
		}
		replies, err := conn.pipelineReplies(ctx, cmds)
		if err != nil {
			return err
		}
		var migrate [][]string
		var next []int
		for i, v := range replies {
			keys := asList(v)
			if len(keys) == 0 {
				continue
			}
			// One key per MIGRATE, as redis-cli's --cluster-pipeline 1
			// would: keys of one slot are split between the nodes for a
			// moment, which multi-key commands meet as TRYAGAIN.
			for _, k := range keys {
				s, _ := k.(string)
				migrate = append(migrate, []string{"MIGRATE", to.IP, strconv.Itoa(to.Port), "", "0", "5000", "KEYS", s})
			}
			next = append(next, left[i])
		}
		replies, err = conn.pipelineReplies(ctx, migrate)
		if err != nil {
			return err
		}
		for _, v := range replies {
			if se, ok := v.(*ServerError); ok && !strings.HasPrefix(se.Msg, "NOKEY") {
				return fmt.Errorf("integration: migrate: %w", se)
			}
		}
		left = next
	}
	return nil
}
