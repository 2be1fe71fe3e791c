package cluster

import (
	"fmt"
	"time"

	"github.com/asyncredis/asyncredis/protocol"
)

// Where a MOVED or ASK may send a command. Its address is the node's
// announced one: it is parsed in every form Redis writes (endpoint) and
// mapped with Config.AddrMapper like the map's. By default only a node
// the map names (or a seed) is followed — a node outside it would get a
// connection, the credentials with it, and the command — unless
// Config.FollowRedirectsAnywhere says otherwise. To any other address,
// or an invalid one, the command waits for the map to be read again and
// goes where it says; redirected there again, it fails.

// directory is what the last map said of its nodes, for redirects.
type directory struct {
	members   map[string]bool   // the addresses of the map's nodes and the seeds: where redirects may go
	announced map[string]string // a map node's address -> the host it announces (a redirect's ":port")
	nodeID    map[string]string // a map node's address -> its ID
}

// redirectTarget returns the address a redirect to ep from node from
// sends a command to, or why it is not followed (ErrBadAddress,
// ErrUnknownNode).
func (c *Cluster) redirectTarget(ep string, from *node) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	answered := ""
	if from != nil {
		answered = c.dir.announced[from.addr]
		if answered == "" {
			answered = hostOf(from.addr)
		}
	}
	addr, err := endpoint(ep, answered, c.cfg.AddrMapper)
	if err != nil {
		c.emit(Event{Kind: EventBadAddress, Addr: ep, Err: err})
		return "", err
	}
	if !c.cfg.FollowRedirectsAnywhere && !c.dir.members[addr] {
		return "", fmt.Errorf("%w: %s", ErrUnknownNode, addr)
	}
	return addr, nil
}

// notFollowed handles a redirect of r that redirectTarget refused (why):
// the first time, r waits for the map to be read again and goes where it
// says; the next time, it fails.
func (c *Cluster) notFollowed(r *request, re *protocol.RedisError, why error) (time.Duration, error) {
	rs := r.retry()
	if rs.mapRead {
		return 0, &RedirectError{Err: re, Cause: why}
	}
	rs.mapRead = true
	c.mu.Lock()
	c.slots.awaitMapLocked(r.slot, c.maps.gen, c.cfg.RefreshTimeout) // if no refresh comes through, retry anyway
	c.mu.Unlock()
	c.requestRefresh()
	return 0, nil
}

// learnLocked takes from a map just applied (read by refresh gen) the
// nodes redirects may go to and the hosts they announce, reports the
// nodes it left out, and lets go the slots that waited for it.
func (c *Cluster) learnLocked(t Topology, gen uint64) {
	members := make(map[string]bool, len(c.cfg.Seeds)+3*len(t.Shards))
	announced := make(map[string]string, 2*len(t.Shards))
	ids := make(map[string]string, 2*len(t.Shards))
	for _, a := range c.cfg.Seeds {
		members[a] = true
	}
	for _, s := range t.Shards {
		for _, n := range append([]NodeInfo{s.Master}, s.Replicas...) {
			members[n.Addr] = true
			announced[n.Addr] = n.host
			ids[n.Addr] = n.ID
		}
	}
	c.dir = directory{members: members, announced: announced, nodeID: ids}
	for _, err := range t.rejected {
		c.emit(Event{Kind: EventBadAddress, Err: err})
	}
	c.slots.mapReadLocked(gen)
}

// movedTo applies a MOVED to ep, from node from (nil if not known), seen
// outside the command path (a dedicated connection, a subscription): the
// slot's owner changes at once if redirectTarget allows it, else the map
// is read again.
func (c *Cluster) movedTo(slot int, ep string, from *node) {
	addr, err := c.redirectTarget(ep, from)
	if err != nil {
		c.requestRefresh()
		return
	}
	c.moveSlot(slot, addr)
}
