package sentinel

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Calls racing with Close never start a worker after Close began waiting:
// under -race, wg.Add concurrent with wg.Wait was reported here, and a
// worker could outlive Close. Every future still resolves.
func TestExecuteRacingCloseStartsNoLateWorker(t *testing.T) {
	checkLeaks(t)
	for range 50 {
		s, err := New(Config{Sentinels: []string{"127.0.0.1:1"}})
		require.NoError(t, err)
		var wg sync.WaitGroup
		started := make(chan struct{}, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 10000; i++ { // until Close refuses
					f := s.Execute(context.Background(), "MASTERS")
					if i == 0 {
						started <- struct{}{}
					}
					<-f.Done()
					require.Error(t, f.Err())
					if errors.Is(f.Err(), ErrClosed) {
						return
					}
				}
			}()
		}
		for range 4 {
			<-started
		}
		s.Close()
		wg.Wait()
		assert.True(t, s.Closed())
	}
}
