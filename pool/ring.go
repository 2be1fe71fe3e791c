package pool

import "github.com/asyncredis/asyncredis/async/core"

// ring is a FIFO of sinks that reuses its storage.
type ring struct {
	buf        []core.Sink
	head, size int
}

func (r *ring) len() int { return r.size }

func (r *ring) push(ss ...core.Sink) {
	if r.size+len(ss) > len(r.buf) {
		n := max(2*len(r.buf), r.size+len(ss), 64)
		nb := make([]core.Sink, n)
		for i := 0; i < r.size; i++ {
			nb[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = nb, 0
	}
	for _, s := range ss {
		r.buf[(r.head+r.size)%len(r.buf)] = s
		r.size++
	}
}

func (r *ring) pop() (core.Sink, bool) {
	if r.size == 0 {
		return nil, false
	}
	s := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return s, true
}

func (r *ring) drain() []core.Sink {
	out := make([]core.Sink, 0, r.size)
	for {
		s, ok := r.pop()
		if !ok {
			return out
		}
		out = append(out, s)
	}
}
