package protocol

import (
	"bufio"
	"errors"
	"sync"
	"unsafe"
)

func (r *Reader) aggregate(dst *Value, kind Kind, body []byte, depth int) error {
	n, err := r.length(body, r.lim.MaxAggregateLen, kind.String())
	if err != nil {
		return err
	}
	if n == -1 {
		if kind != KindArray {
			return malformed("null " + kind.String())
		}
		dst.Kind = KindNull
		return nil
	}
	per := int64(1)
	if kind == KindMap {
		per = 2
	}
	if n == -2 {
		return r.streamedAggregate(dst, kind, per, depth)
	}
	// Capacity follows the data: a huge declared count cannot allocate
	// more than a few elements before they actually arrive, and every
	// growth is charged to the reply's memory budget.
	total := n * per
	var elems []Value
	if err := r.grow(&elems, min(total, 1024)); err != nil {
		return err
	}
	outer := r.left
	defer func() { r.left = outer }()
	for i := int64(0); i < total; i++ {
		if len(elems) == cap(elems) {
			if err := r.grow(&elems, min(total, 2*int64(cap(elems)))); err != nil {
				return err
			}
		}
		r.left = total - i
		elems = elems[:len(elems)+1] // zero: new or cleared arrays only
		if err := r.read(&elems[len(elems)-1], depth+1); err != nil {
			return eofInside(err)
		}
	}
	dst.Kind, dst.Elems = kind, elems
	return nil
}

// streamedAggregate reads elements up to the "." terminator.
func (r *Reader) streamedAggregate(dst *Value, kind Kind, per int64, depth int) error {
	var elems []Value
	for {
		if b, err := r.br.Peek(3); err == nil && b[0] == '.' && b[1] == '\r' && b[2] == '\n' {
			r.br.Discard(3)
			r.wire += 3
			if int64(len(elems))%per != 0 {
				return malformed("streamed map with odd element count")
			}
			dst.Kind, dst.Elems = kind, elems
			return nil
		} else if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return eofInside(err)
		}
		if int64(len(elems)) >= r.lim.MaxAggregateLen*per {
			return overLimit("streamed aggregate over MaxAggregateLen")
		}
		if len(elems) == cap(elems) {
			if err := r.grow(&elems, max(16, 2*int64(cap(elems)))); err != nil {
				return err
			}
		}
		elems = elems[:len(elems)+1] // zero: new or cleared arrays only
		if err := r.read(&elems[len(elems)-1], depth+1); err != nil {
			return eofInside(err)
		}
	}
}

// grow gives *elems room for n elements, charging the new array.
func (r *Reader) grow(elems *[]Value, n int64) error {
	if err := r.charge(n * ValueSize); err != nil {
		return err
	}
	var next []Value
	if len(*elems) == 0 {
		next = newElems(n)
	} else {
		next = make([]Value, len(*elems), n)
		copy(next, *elems)
	}
	*elems = next
	return nil
}

// maxReused bounds the length of the element arrays that Reuse takes
// back: the small aggregates most replies are (MGET of a few keys, a
// hash of a few fields).
const maxReused = 64

// reused holds element arrays handed back by Reuse, by capacity: each
// entry points at the first element of an array of exactly that many
// Values, all zero.
var reused [maxReused + 1]sync.Pool

// newElems returns an empty array with room for n values, one handed
// back through Reuse when there is one.
func newElems(n int64) []Value {
	if n > 0 && n <= maxReused {
		if p, ok := reused[n].Get().(*Value); ok {
			return unsafe.Slice(p, n)[:0]
		}
	}
	return make([]Value, 0, n)
}

// Reuse hands v's element array back to the Reader for a later reply,
// cleared. Call it only for a value a Reader returned and only when
// nothing will look at v's elements again: an executor calls it after a
// reply's consumer has converted it into values of its own (see
// core.Consumer). Nested arrays are left to the garbage collector.
func Reuse(v Value) {
	c := cap(v.Elems)
	if c == 0 || c > maxReused {
		return
	}
	all := v.Elems[:c]
	clear(all)
	reused[c].Put(&all[0])
}
