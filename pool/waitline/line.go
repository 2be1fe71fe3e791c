// Package waitline is the bounded line of commands that wait for a
// connection — one being dialled (pool), a verified address (managedpool),
// a slot's owner (the cluster client) — and of the callers that wait for
// room in it. It is the one place that
//
//   - bounds the waiting commands by count and by encoded bytes,
//   - lets callers that find it full wait for room in the order they came
//     (Room), bounded by their context,
//   - drops a command whose context ends while it waits, at that moment:
//     its future fails, its memory goes, its room passes to the next
//     caller, with no timer or goroutine per command (context.AfterFunc
//     registers with the context's own timer),
//   - hands the waiting commands over in the order they came.
//
// A Line has no lock of its own: its owner guards it with the mutex it
// gives to New, held for every method unless a method says otherwise, so
// that the owner can test its own state (closed, connected) and the line
// in one critical section.
package waitline

import (
	"context"
	"slices"
	"sync"
)

// Line is a FIFO of waiting commands of type T. Each has a key, which
// the owner uses to take only the commands waiting for one connection.
type Line[T any] struct {
	mu       *sync.Mutex // the owner's; guards the line
	maxCount int
	maxBytes int
	expire   func(v T, err error) // fails a command whose context ended; called without mu

	items []*entry[T]       // in arrival order; entries that left are skipped
	front int               // items[:front] came through PushFront since the line was last emptied
	gone  int               // entries in items that have left
	keys  map[int]*keyed[T] // each key's entries, in the same order: Take costs what one key holds
	n     int               // commands in the line
	bytes int               // their encoded size

	// Room is the line of callers waiting for room in this one.
	Room Room

	expiring sync.WaitGroup // one per entry whose expiry is registered and has not finished
}

// keyed is one key's entries in the order items has them: first those
// that came through PushFront (es[:front]), then the others.
type keyed[T any] struct {
	es    []*entry[T]
	front int
}

// entry is one waiting command.
type entry[T any] struct {
	v    T
	key  int
	size int
	in   bool        // still in the line
	stop func() bool // deregisters the expiry; false once it has run
}

// New returns a line bounded by maxCount commands and maxBytes encoded
// bytes, guarded by mu. expire fails a command whose context ended while
// it waited, with that context's error; it runs without mu held, on the
// goroutine that ended the context's wait.
func New[T any](mu *sync.Mutex, maxCount, maxBytes int, expire func(v T, err error)) *Line[T] {
	return &Line[T]{mu: mu, maxCount: maxCount, maxBytes: maxBytes, expire: expire, keys: map[int]*keyed[T]{}}
}

// Len is the number of waiting commands.
func (l *Line[T]) Len() int { return l.n }

// Bytes is their encoded size.
func (l *Line[T]) Bytes() int { return l.bytes }

// HasRoom reports whether a command of size bytes may join, besides the
// room reserved for callers already woken. An empty line always has room for
// one command, so that one larger than maxBytes is not refused for ever.
func (l *Line[T]) HasRoom(size int) bool {
	res, resBytes := l.Room.Reserved()
	return Fits(l.n+res, l.maxCount, l.bytes+resBytes, l.maxBytes, size)
}

// Fits reports whether a command of size bytes may join a queue holding
// count commands of bytes (room reserved for woken callers included), bounded
// by maxCount and maxBytes. An empty queue always has room for one
// command, so that one larger than maxBytes is not refused for ever.
func Fits(count, maxCount, bytes, maxBytes, size int) bool {
	return count < maxCount && (bytes == 0 || bytes+size <= maxBytes)
}

// Freed wakes callers waiting for room, as many as there is room for.
func (l *Line[T]) Freed() { l.Room.Wake(l.HasRoom) }

// Admit waits, with the line's mutex held, for room for one command of
// size bytes: Room.Admit with the line's bounds.
func (l *Line[T]) Admit(ctx context.Context, dead <-chan struct{}, size int, check func() (ready bool, err error)) (bool, error) {
	return l.Room.Admit(l.mu, ctx, dead, 1, size, l, check)
}

// Push adds v, a command of size bytes waiting under ctx, for key. It
// does not check the bounds: callers admit commands with HasRoom (or wait
// in Room) first; commands taken back after they were admitted (a
// requeue, a hand-over that found no connection after all) join as they
// are.
func (l *Line[T]) Push(ctx context.Context, key int, v T, size int) {
	e := &entry[T]{v: v, key: key, size: size, in: true}
	l.items = append(l.items, e)
	k := l.keyed(key)
	k.es = append(k.es, e)
	l.n++
	l.bytes += size
	l.expiring.Add(1)
	e.stop = context.AfterFunc(ctx, func() { l.expired(e, ctx) })
}

// PushFront is Push for a command taken back from where it was sent
// before the commands now waiting were issued (a connection held for a
// failover gives back what it had not written): it goes before them,
// after those already pushed to the front, so that issue order holds.
func (l *Line[T]) PushFront(ctx context.Context, key int, v T, size int) {
	e := &entry[T]{v: v, key: key, size: size, in: true}
	l.items = slices.Insert(l.items, l.front, e)
	l.front++
	k := l.keyed(key)
	k.es = slices.Insert(k.es, k.front, e)
	k.front++
	l.n++
	l.bytes += size
	l.expiring.Add(1)
	e.stop = context.AfterFunc(ctx, func() { l.expired(e, ctx) })
}

// keyed returns key's entries, made if it has none.
func (l *Line[T]) keyed(key int) *keyed[T] {
	k := l.keys[key]
	if k == nil {
		k = &keyed[T]{}
		l.keys[key] = k
	}
	return k
}

// Wait waits, without mu held, until no expiry is running: after the
// owner has closed and taken every command (TakeAll), nothing of the line
// runs once Wait returns.
func (l *Line[T]) Wait() { l.expiring.Wait() }

// expired drops e, whose context ended, if it is still in the line, and
// fails it. It runs on its own goroutine (context.AfterFunc), so it takes
// mu itself. Whoever takes an entry out of the line first stops this; an
// entry whose expiry has started is failed here whoever took it.
func (l *Line[T]) expired(e *entry[T], ctx context.Context) {
	defer l.expiring.Done()
	l.mu.Lock()
	if e.in {
		l.removeLocked(e)
		l.Freed()
	}
	v := e.v
	var zero T
	e.v = zero // the slot may stay in items until compaction: keep no command alive
	l.mu.Unlock()
	l.expire(v, ctx.Err())
}

// removeLocked takes e out of the count; its slot in items is left for
// compaction.
func (l *Line[T]) removeLocked(e *entry[T]) {
	e.in = false
	l.n--
	l.bytes -= e.size
	if l.gone++; l.gone > 32 && l.gone > len(l.items)/2 {
		l.compact()
	}
}

// compact drops the entries that have left from items and from the
// keys' lists.
func (l *Line[T]) compact() {
	kept := l.items[:0]
	front := 0
	clear(l.keys)
	for i, e := range l.items {
		if e.in {
			kept = append(kept, e)
			k := l.keyed(e.key)
			k.es = append(k.es, e)
			if i < l.front {
				front++
				k.front++
			}
		}
	}
	l.front = front
	clear(l.items[len(kept):])
	l.items, l.gone = kept, 0
	if len(l.items) == 0 {
		l.items = nil // let a long line's storage go
	}
}

// Take removes the commands waiting for key and returns them in the
// order they came, waking callers waiting for room. A command whose
// context has just ended is not returned: its expiry fails it. It costs
// what key holds, whatever the others hold.
func (l *Line[T]) Take(key int) []T {
	k := l.keys[key]
	if k == nil {
		return nil
	}
	delete(l.keys, key)
	out, taken := l.take(k.es, nil)
	if taken {
		if l.gone > 32 && l.gone > len(l.items)/2 {
			l.compact()
		}
		l.Freed()
	}
	return out
}

// TakeAll removes every waiting command, as Take does.
func (l *Line[T]) TakeAll() []T {
	out, taken := l.take(l.items, nil)
	if taken {
		l.compact()
		l.Freed()
	}
	return out
}

// take takes the entries of es still in the line out of it, appending
// the commands whose expiry it stopped to out.
func (l *Line[T]) take(es []*entry[T], out []T) ([]T, bool) {
	taken := false
	for _, e := range es {
		if !e.in {
			continue
		}
		l.n--
		l.bytes -= e.size
		e.in = false
		l.gone++
		taken = true
		if e.stop() {
			l.expiring.Done()
			out = append(out, e.v)
			var zero T
			e.v = zero
		}
	}
	return out, taken
}
