package schemacache

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultChannel is the Redis pub/sub channel of RedisBus.
const DefaultChannel = "intercom-gateway:schemacache"

// RedisBus is a Bus over Redis pub/sub: one subscription per process,
// shared by the Caches of every workspace. Redis pub/sub delivers each
// message at most once, and not at all to a subscriber that is disconnected;
// after a reconnection every Cache drops its schemas (Message.Resubscribed),
// and the periodic refresh covers the rest.
//
// Degraded mode: when Redis is down, Publish fails within its timeout
// (logged and counted by the Cache as gateway.schemacache.invalidations
// {outcome="publish_error"}), writes still succeed, and other replicas see
// the change at their next refresh.
type RedisBus struct {
	rdb     redis.UniversalClient
	channel string
	timeout time.Duration
	log     *slog.Logger

	mu   sync.Mutex
	subs map[string]map[int]func(Message)
	next int

	ps     *redis.PubSub
	cancel context.CancelFunc
	done   chan struct{}
}

// RedisBusOption configures a RedisBus.
type RedisBusOption func(*RedisBus)

// WithChannel sets the pub/sub channel (default DefaultChannel): replicas
// that share it share invalidations.
func WithChannel(name string) RedisBusOption { return func(b *RedisBus) { b.channel = name } }

// WithPublishTimeout bounds each Publish (default 500 ms), so that a slow
// Redis delays a write's answer by at most that.
func WithPublishTimeout(d time.Duration) RedisBusOption { return func(b *RedisBus) { b.timeout = d } }

// WithBusLogger logs lost subscriptions and undecodable messages.
func WithBusLogger(l *slog.Logger) RedisBusOption { return func(b *RedisBus) { b.log = l } }

// NewRedisBus subscribes to the channel and delivers its messages until
// Close.
func NewRedisBus(rdb redis.UniversalClient, opts ...RedisBusOption) *RedisBus {
	b := &RedisBus{rdb: rdb, channel: DefaultChannel, timeout: 500 * time.Millisecond,
		log: slog.New(slog.DiscardHandler), subs: map[string]map[int]func(Message){}, done: make(chan struct{})}
	for _, o := range opts {
		o(b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.ps = rdb.Subscribe(ctx, b.channel)
	go b.run(ctx)
	return b
}

// Close stops the subscription. It does not close the Redis client.
func (b *RedisBus) Close() error {
	b.cancel()
	// Closing the PubSub ends a Receive blocked on the connection, which
	// the context alone does not.
	_ = b.ps.Close()
	<-b.done
	return nil
}

// Publish implements Bus.
func (b *RedisBus) Publish(ctx context.Context, m Message) error {
	payload, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	return b.rdb.Publish(ctx, b.channel, payload).Err()
}

// Subscribe implements Bus.
func (b *RedisBus) Subscribe(workspace string, fn func(Message)) func() {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.next
	b.next++
	if b.subs[workspace] == nil {
		b.subs[workspace] = map[int]func(Message){}
	}
	b.subs[workspace][id] = fn
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.subs[workspace], id)
	}
}

// deliver calls the subscribers of m's workspace, or all of them for a
// resubscription.
func (b *RedisBus) deliver(m Message) {
	b.mu.Lock()
	var fns []func(Message)
	for ws, subs := range b.subs {
		if m.Resubscribed || ws == m.Workspace {
			for _, fn := range subs {
				fns = append(fns, fn)
			}
		}
	}
	b.mu.Unlock()
	for _, fn := range fns {
		fn(m)
	}
}

// run receives until ctx ends. go-redis reconnects and resubscribes a
// PubSub by itself after an error; each confirmation after the first means
// messages may have been lost in between.
func (b *RedisBus) run(ctx context.Context) {
	defer close(b.done)
	ps := b.ps
	subscribed := false
	backoff := 50 * time.Millisecond
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			b.log.Warn("schema cache bus: Redis subscription lost; retrying", "channel", b.channel, "error", err.Error())
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			if subscribed {
				b.log.Info("schema cache bus: Redis subscription restored; dropping cached schemas", "channel", b.channel)
				b.deliver(Message{Resubscribed: true})
			}
			subscribed = true
		case *redis.Message:
			var in Message
			if err := json.Unmarshal([]byte(m.Payload), &in); err != nil || in.Workspace == "" {
				b.log.Warn("schema cache bus: ignoring a message that is not an invalidation", "channel", b.channel)
				continue
			}
			in.Resubscribed = false
			b.deliver(in)
		}
	}
}
