// Package redisstore keeps the gateway's request_id results in Redis, so
// that a retried CreateTicket that lands on another replica finds the first
// result, or the in-doubt marker of a create whose outcome is unknown, and
// never creates a second ticket.
//
// It implements service.IdempotencyStore. Its degraded mode: when Redis does
// not answer within the timeout, the replica falls back to its own in-memory
// store (and logs the switch once), so creates keep working; a retry that
// lands on another replica during the outage is then not recognised.
//
// Every outcome this replica records is also kept in that in-memory store
// (by ticket id only, a couple of hundred bytes; bounded like it: the TTL,
// 100,000 records, 32 MiB), which is asked when Redis has no record. So a
// retry on the same replica finds its create even when Redis lost the
// record: recorded during an outage, lost because Redis went away between
// the create and the write, or lost with a Redis restarted empty (the
// ticket is then read again by id). Only a retry on another replica depends
// on Redis having the record.
package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"crypto/rand"
	"encoding/hex"

	"github.com/redis/go-redis/v9"

	"github.com/intercom-gateway/intercom-gateway/service"
)

// Store is a service.IdempotencyStore in Redis.
type Store struct {
	memOpts  []service.MemoryStoreOption
	rdb      redis.UniversalClient
	prefix   string
	ttl      time.Duration
	lockTTL  time.Duration
	timeout  time.Duration
	poll     time.Duration
	fallback *service.MemoryIdempotencyStore
	log      *slog.Logger
	degraded atomic.Bool
}

// Option configures New.
type Option func(*Store)

// WithTimeout bounds each Redis command (default 100 ms).
func WithTimeout(d time.Duration) Option { return func(s *Store) { s.timeout = d } }

// WithLockTTL is how long one replica holds a key while its create runs
// (default 60 s: the upstream timeout and its retries fit in it). A replica
// that dies holding it delays a retry by at most this long.
func WithLockTTL(d time.Duration) Option { return func(s *Store) { s.lockTTL = d } }

// WithLogger logs the switches to and from the in-memory fallback.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithMemoryMaxRecords bounds this replica's in-memory copy (default
// 100,000 records).
func WithMemoryMaxRecords(n int) Option {
	return func(s *Store) { s.memOpts = append(s.memOpts, service.WithStoreMaxEntries(n)) }
}

// WithPrefix sets the key prefix (default "igw:req:").
func WithPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// New returns a store that remembers records for ttl in rdb.
func New(rdb redis.UniversalClient, ttl time.Duration, opts ...Option) *Store {
	s := &Store{rdb: rdb, prefix: "igw:req:", ttl: ttl, lockTTL: 60 * time.Second, timeout: 100 * time.Millisecond,
		poll: 25 * time.Millisecond, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	s.fallback = service.NewMemoryIdempotencyStore(ttl, s.memOpts...)
	return s
}

// MemoryRecords is how many records this replica's in-memory copy holds.
func (s *Store) MemoryRecords() int { return s.fallback.Len() }

// Degraded reports whether the last Redis command failed, so that records
// are kept in this process only.
func (s *Store) Degraded() bool { return s.degraded.Load() }

var _ service.IdempotencyStore = (*Store)(nil)

// unlock deletes the lock only if this replica still holds it.
var unlock = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

func (s *Store) cmdCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
}

func (s *Store) failed(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		if s.degraded.CompareAndSwap(true, false) {
			s.log.Info("request_id store: Redis reachable again, results are shared by the replicas")
		}
		return false
	}
	if s.degraded.CompareAndSwap(false, true) {
		s.log.Warn("request_id store: Redis unreachable, results are kept in this replica only", "error", err.Error())
	}
	return true
}

func (s *Store) get(ctx context.Context, key string) (service.CreateRecord, bool, error) {
	cctx, cancel := s.cmdCtx(ctx)
	defer cancel()
	b, err := s.rdb.Get(cctx, s.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return service.CreateRecord{}, false, nil
	}
	if err != nil {
		return service.CreateRecord{}, false, err
	}
	var rec service.CreateRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return service.CreateRecord{}, false, err
	}
	return rec, true, nil
}

// Do implements service.IdempotencyStore. One replica at a time runs fn
// for a key (a lock key with a TTL); the others wait for its record.
func (s *Store) Do(ctx context.Context, key string, fn func(context.Context, *service.InDoubt) (service.CreateRecord, error)) (service.CreateRecord, error) {
	var tok [12]byte
	_, _ = rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	lockKey := s.prefix + key + ":lock"
	for {
		rec, ok, err := s.get(ctx, key)
		if s.failed(err) {
			return s.fallback.Do(ctx, key, fn)
		}
		if ok && rec.InDoubt == nil {
			return rec, nil
		}
		if local, lok := s.fallback.Get(key); !ok && lok && local.InDoubt == nil {
			// Redis lost it, this replica saw the create succeed: a final
			// outcome never changes.
			return local, nil
		}
		cctx, cancel := s.cmdCtx(ctx)
		got, err := s.rdb.SetNX(cctx, lockKey, token, s.lockTTL).Result()
		cancel()
		if s.failed(err) {
			return s.fallback.Do(ctx, key, fn)
		}
		if got {
			return s.run(ctx, key, lockKey, token, fn)
		}
		// Another replica (or call) runs this create: wait for its record.
		t := time.NewTimer(s.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return service.CreateRecord{}, ctx.Err()
		case <-t.C:
		}
	}
}

func (s *Store) run(ctx context.Context, key, lockKey, token string, fn func(context.Context, *service.InDoubt) (service.CreateRecord, error)) (service.CreateRecord, error) {
	defer func() {
		cctx, cancel := s.cmdCtx(ctx)
		defer cancel()
		_ = unlock.Run(cctx, s.rdb, []string{lockKey}, token).Err()
	}()
	// Read again under the lock: the previous holder may just have written.
	prev, ok, err := s.get(ctx, key)
	if s.failed(err) {
		return s.fallback.Do(ctx, key, fn)
	}
	if ok && prev.InDoubt == nil {
		return prev, nil
	}
	if !ok {
		// Redis does not know the key, but this replica may: a create in
		// doubt recorded while Redis was away must be resolved, not sent
		// again blindly.
		if local, lok := s.fallback.Get(key); lok {
			if local.InDoubt == nil {
				return local, nil
			}
			prev = local
		}
	}
	// The outcome of a create that reached Intercom must be recorded even
	// if its caller went away.
	rec, ferr := fn(context.WithoutCancel(ctx), prev.InDoubt)
	slim := rec
	slim.Ticket = nil // this replica's copy: the id is enough to answer again
	s.fallback.Put(key, slim)
	cctx, cancel := s.cmdCtx(ctx)
	defer cancel()
	if rec.TicketID == "" && rec.InDoubt == nil {
		err = s.rdb.Del(cctx, s.prefix+key).Err()
	} else {
		var b []byte
		if b, err = json.Marshal(rec); err == nil {
			err = s.rdb.Set(cctx, s.prefix+key, b, s.ttl).Err()
		}
	}
	if s.failed(err) {
		s.log.Warn("request_id store: could not record a create's outcome in Redis", "key_len", strconv.Itoa(len(key)))
	}
	return rec, ferr
}
