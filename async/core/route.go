package core

import "strings"

// KeySlot returns the Redis Cluster hash slot (CRC16 of the key, or of its
// {hash tag}, modulo 16384) of the command's first key, read from its
// encoding, or 0 for a command without a key. Pools with several
// connections use it to send every command on one key down one
// connection, so that commands on a key run in the order they were issued.
func (c *Command) KeySlot() uint16 {
	key, ok := firstKey(c.Buf)
	if !ok {
		return 0
	}
	return Slot(key)
}

// Name returns the command's name as encoded (its first argument), or nil
// for an empty or malformed command. It aliases Buf.
func (c *Command) Name() []byte {
	p := argParser{buf: c.Buf}
	if n, ok := p.header('*'); !ok || n < 1 {
		return nil
	}
	name, _ := p.next()
	return name
}

// Slot returns the hash slot of key, honouring a {hash tag}.
func Slot(key []byte) uint16 {
	if i := indexByte(key, '{'); i >= 0 {
		if j := indexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return crc16(key) & 16383
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// firstKey finds the first key argument of an encoded command: an array
// of bulk strings as AppendCommand writes it.
func firstKey(buf []byte) ([]byte, bool) {
	key, _, ok := routeKey(buf)
	return key, ok
}

// RouteKey reads cmd once for what routing by key needs: its first key
// (ok false when it has none, as FirstKey) and whether it may have keys
// beyond the first (MultiKey of its name).
func (c *Command) RouteKey() (key []byte, multi, ok bool) { return routeKey(c.Buf) }

func routeKey(buf []byte) (key []byte, multi, ok bool) {
	p := argParser{buf: buf}
	n, ok := p.header('*')
	if !ok || n < 1 {
		return nil, false, false
	}
	name, ok := p.next()
	if !ok {
		return nil, false, false
	}
	s := lookup(name)
	multi = s.multiKey()
	if n < 2 {
		return nil, multi, false
	}
	key, ok = s.firstKey(&p)
	return key, multi, ok
}

// firstKey reads the first key off p, which has read the command's name.
func (s cmdSpec) firstKey(p *argParser) ([]byte, bool) {
	pos := 1 // the argument index of the first key
	switch s.key {
	case keyNone:
		return nil, false
	case keyScript:
		if _, ok := p.next(); !ok { // script, sha or function
			return nil, false
		}
		nk, ok := p.next()
		if !ok || string(nk) == "0" {
			return nil, false
		}
		return p.next()
	case keyStreams:
		for {
			a, ok := p.next()
			if !ok {
				return nil, false
			}
			if strings.EqualFold(string(a), "STREAMS") {
				return p.next()
			}
		}
	case keyThird:
		pos = 3
	case keySecond:
		pos = 2
	}
	for i := 1; i < pos; i++ {
		if _, ok := p.next(); !ok {
			return nil, false
		}
	}
	return p.next()
}

// argParser reads bulk strings off an encoded command.
type argParser struct {
	buf []byte
	i   int
}

func (p *argParser) header(kind byte) (int, bool) {
	if p.i >= len(p.buf) || p.buf[p.i] != kind {
		return 0, false
	}
	n := 0
	j := p.i + 1
	for ; j < len(p.buf) && p.buf[j] != '\r'; j++ {
		c := p.buf[j]
		if c < '0' || c > '9' || n > 1<<30 {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if j+1 >= len(p.buf) {
		return 0, false
	}
	p.i = j + 2
	return n, true
}

func (p *argParser) next() ([]byte, bool) {
	n, ok := p.header('$')
	if !ok || p.i+n+2 > len(p.buf) {
		return nil, false
	}
	b := p.buf[p.i : p.i+n]
	p.i += n + 2
	return b, true
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021), the checksum Redis Cluster
// hashes keys with.
func crc16(b []byte) uint16 {
	var crc uint16
	for _, x := range b {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^x]
	}
	return crc
}

var crcTable = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

// FirstKey returns the command's first key argument (aliasing Buf), and
// false for a command without a key.
func (c *Command) FirstKey() ([]byte, bool) { return firstKey(c.Buf) }
