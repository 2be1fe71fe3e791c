package waitline

import (
	"context"
	"slices"
	"sync"
)

// Room is the line of callers waiting for room in a bounded queue. Room
// that frees up is handed to them one at a time, first come first served,
// and reserved for each caller it wakes until that caller comes back for it.
// So a freed slot wakes one waiter, not all of them (with thousands
// waiting, waking everyone for every slot cost thousands of wake-ups per
// command), and a newcomer cannot take room reserved for a waiter.
//
// Room has no lock of its own: the queue's owner guards it with its
// mutex, held for every method.
type Room struct {
	q             []*Waiter
	reserved      int // commands whose room is reserved for woken waiters
	reservedBytes int // their encoded size
}

// Waiter is one caller in a Room.
type Waiter struct {
	ch    chan struct{} // capacity 1: sent to once per wake-up
	n     int           // its commands
	bytes int           // their encoded size
}

// Waiting reports whether anyone is in line.
func (l *Room) Waiting() bool { return len(l.q) > 0 }

// Len is the number of callers in line.
func (l *Room) Len() int { return len(l.q) }

// Reserved returns the commands, and their bytes, whose room is reserved for
// callers that have been woken and not yet come back.
func (l *Room) Reserved() (n, bytes int) { return l.reserved, l.reservedBytes }

// Join puts a caller in line and returns its waiter: a new one (w nil)
// at the back, for n commands of bytes; or w, woken but finding its room
// taken after all, back at the front.
func (l *Room) Join(w *Waiter, n, bytes int) *Waiter {
	if w != nil {
		l.q = slices.Insert(l.q, 0, w)
		return w
	}
	w = &Waiter{ch: make(chan struct{}, 1), n: n, bytes: bytes}
	l.q = append(l.q, w)
	return w
}

// Await unlocks mu, waits until w is woken, dead is closed or ctx ends,
// and locks mu again. It returns ctx.Err() when ctx ended: w has then left
// the line, and room reserved for it has been passed on through freed. Else
// the caller looks again: it has room, or the queue's owner has ended.
func (l *Room) Await(mu *sync.Mutex, w *Waiter, ctx context.Context, dead <-chan struct{}, freed func()) error {
	mu.Unlock()
	select {
	case <-w.ch:
		mu.Lock()
		l.woken(w)
	case <-dead:
		mu.Lock()
	case <-ctx.Done():
		mu.Lock()
		if l.leave(w) {
			freed()
		}
		return ctx.Err()
	}
	return nil
}

// A Queue is what Admit needs of the bounded queue a Room guards.
type Queue interface {
	HasRoom(bytes int) bool // room for bytes more, besides the room reserved for woken callers
	Freed()                 // wakes callers in line, as many as there is room for
}

// Admit is the one way a caller waits for room in a bounded queue. Called
// with mu held, and returning with it held, it loops: check says whether
// the caller needs no room after all (ready: the queue's owner can take
// the command another way) or is refused (err); else, if the queue has
// room for the caller's n commands of bytes — callers already in line go
// first — Admit returns with the room the caller's; else the caller waits
// in line, bounded by ctx and dead, and looks again. It returns ready and
// check's error, or ctx's error; (false, nil) means the caller has room.
// Room woken for a caller that leaves without taking it is passed on.
func (l *Room) Admit(mu *sync.Mutex, ctx context.Context, dead <-chan struct{}, n, bytes int, q Queue, check func() (ready bool, err error)) (bool, error) {
	var me *Waiter // set once this caller has waited
	for {
		if ready, err := check(); ready || err != nil {
			if me != nil {
				q.Freed()
			}
			return ready, err
		}
		if (me != nil || !l.Waiting()) && q.HasRoom(bytes) {
			return false, nil
		}
		me = l.Join(me, n, bytes)
		if err := l.Await(mu, me, ctx, dead, q.Freed); err != nil {
			return false, err
		}
	}
}

// woken releases the room reserved for w, which has received on w.ch, so
// that it can take that room.
func (l *Room) woken(w *Waiter) {
	l.reserved -= w.n
	l.reservedBytes -= w.bytes
}

// Wake wakes callers from the front of the line while room reports room
// for the next one (besides what is already reserved), reserving it for them.
func (l *Room) Wake(room func(bytes int) bool) {
	for len(l.q) > 0 && room(l.q[0].bytes) {
		w := l.q[0]
		l.q[0] = nil
		if l.q = l.q[1:]; len(l.q) == 0 {
			l.q = nil // let a long line's storage go
		}
		l.reserved += w.n
		l.reservedBytes += w.bytes
		w.ch <- struct{}{}
	}
}

// WakeAll wakes every caller in line, holding nothing for them: the
// queue's owner no longer bounds them (a connection came up, the owner
// closed), and each looks again.
func (l *Room) WakeAll() { l.Wake(func(int) bool { return true }) }

// leave takes w, which gives up, out of the line. If it had already been
// woken, the room reserved for it is released and leave reports true: the
// caller should then wake the next in line.
func (l *Room) leave(w *Waiter) bool {
	if i := slices.Index(l.q, w); i >= 0 {
		l.q = slices.Delete(l.q, i, i+1)
		return false
	}
	select {
	case <-w.ch:
		l.woken(w)
		return true
	default: // woken by something else (the queue's owner ending): nothing reserved
		return false
	}
}
