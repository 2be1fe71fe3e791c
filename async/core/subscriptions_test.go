package core

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSubscriptionsWantedAndAwaited(t *testing.T) {
	var s Subscriptions[struct{}]
	a, b := s.Want("SUBSCRIBE", "a"), s.Want("SUBSCRIBE", "b")
	s.Want("PSUBSCRIBE", "p*")
	assert.Equal(t, []string{"a", "b"}, s.Wanted("SUBSCRIBE"))
	assert.Equal(t, 1, s.Answered("SUBSCRIBE", "a", nil))
	require.NoError(t, <-a)
	refused := errors.New("NOPERM")
	assert.Equal(t, 1, s.Answered("SUBSCRIBE", "b", refused))
	assert.Equal(t, refused, <-b)
	assert.Equal(t, []string{"a"}, s.Wanted("SUBSCRIBE"), "a refused name is no longer wanted")
	assert.Zero(t, s.Answered("SUBSCRIBE", "a", nil), "no caller waits any more")
	s.DropSet("SUBSCRIBE")
	assert.Empty(t, s.Wanted("SUBSCRIBE"))
	assert.Equal(t, []string{"p*"}, s.Wanted("PSUBSCRIBE"), "other sets untouched")
	s.Drop("PSUBSCRIBE", "p*")
	assert.Len(t, s.m, 1, "a caller still awaits p*'s confirmation")
	s.Answered("PSUBSCRIBE", "p*", nil)
	assert.Empty(t, s.m, "nothing kept of names neither wanted, placed nor awaited")
}

func TestSubscriptionsPlacement(t *testing.T) {
	var s Subscriptions[int]
	s.Place("SSUBSCRIBE", "c", 1)
	assert.False(t, s.Confirmed("SSUBSCRIBE", "c"))
	s.Confirm("SSUBSCRIBE", "c", 2)
	assert.False(t, s.Confirmed("SSUBSCRIBE", "c"), "another connection's confirmation")
	s.Confirm("SSUBSCRIBE", "c", 1)
	assert.True(t, s.Confirmed("SSUBSCRIBE", "c"))
	s.Unconfirm("SSUBSCRIBE", "c")
	assert.False(t, s.Confirmed("SSUBSCRIBE", "c"))
	s.Confirm("SSUBSCRIBE", "c", 1)
	s.Place("SSUBSCRIBE", "d", 2)
	s.Leave("SSUBSCRIBE", "e")
	s.Leave("SSUBSCRIBE", "e")

	var h Subscriptions[int]
	h.Inherit(&s, "SSUBSCRIBE", func(on int) bool { return on == 1 })
	on, ok := h.On("SSUBSCRIBE", "c")
	assert.True(t, ok)
	assert.Equal(t, 1, on)
	assert.True(t, h.Confirmed("SSUBSCRIBE", "c"), "the confirmation goes with the kept connection")
	_, ok = h.On("SSUBSCRIBE", "d")
	assert.False(t, ok, "not on a kept connection")
	assert.True(t, h.Left("SSUBSCRIBE", "e"))
	assert.True(t, h.Left("SSUBSCRIBE", "e"))
	assert.False(t, h.Left("SSUBSCRIBE", "e"), "two unsubscribes awaited, two confirmed")
	var placed []string
	h.Placed("SSUBSCRIBE", func(name string, on int, confirmed bool) bool { placed = append(placed, name); return true })
	assert.Equal(t, []string{"c"}, placed)
	h.Unplace("SSUBSCRIBE", "c")
	assert.Empty(t, h.m)
}
