package integration

import (
	"context"
	"strings"
	"sync"
	"time"
)

// SentinelMessage is one event a sentinel published.
type SentinelMessage struct {
	Sentinel string // the sentinel's node name
	Channel  string // e.g. "+switch-master"
	Payload  string
	At       time.Time // when the harness received it
}

// Watch subscribes to channels on every running sentinel with the
// harness' own connections and delivers what they publish, independently of
// the client under test. The returned stop function ends the subscriptions
// and waits for them. The channel is buffered (1024) and never blocks the
// subscribers: overflow is dropped.
func (d *Deployment) Watch(ctx context.Context, channels ...string) (<-chan SentinelMessage, func(), error) {
	out := make(chan SentinelMessage, 1024)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stopAll := func() { cancel(); wg.Wait() }
	for _, s := range d.liveSentinels() {
		rc, err := dialRESP(ctx, s.Addr(), nil, s.username, s.password)
		if err != nil {
			stopAll()
			return nil, nil, err
		}
		args := append([]string{"SUBSCRIBE"}, channels...)
		if err := rc.send(ctx, args...); err != nil {
			rc.Close()
			stopAll()
			return nil, nil, err
		}
		// Wait for every confirmation so that nothing published after
		// Watch returns is missed.
		for range channels {
			if _, err := rc.read(ctx); err != nil {
				rc.Close()
				stopAll()
				return nil, nil, err
			}
		}
		wg.Add(1)
		stop := context.AfterFunc(ctx, func() { rc.Close() })
		go func() {
			defer wg.Done()
			defer stop()
			defer rc.Close()
			for {
				rc.c.SetReadDeadline(time.Time{})
				v, err := readValue(rc.br)
				if err != nil {
					return
				}
				arr, ok := v.([]any)
				if !ok || len(arr) != 3 || arr[0] != "message" {
					continue
				}
				ch, _ := arr[1].(string)
				payload, _ := arr[2].(string)
				select {
				case out <- SentinelMessage{Sentinel: s.Name, Channel: ch, Payload: strings.TrimSpace(payload), At: time.Now()}:
				default:
				}
			}
		}()
	}
	return out, stopAll, nil
}
