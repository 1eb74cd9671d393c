package config_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/intercom-gateway/intercom-gateway/config"
	"github.com/intercom-gateway/intercom-gateway/internal/redistest"
)

// The gateway's Redis client keeps small per-connection buffers (go-redis
// gives 32 KiB, 128 KiB on pipeline connections, to every pooled
// connection), and values far larger than them still travel whole: plain
// commands, a script's reply and a pipeline.
func TestRedisClientSmallBuffersCarryLargeValues(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	uc, err := config.Redis{Addr: srv.Addr()}.RedisClient(func(string) string { return "" }, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = uc.Close() })
	c, ok := uc.(*redis.Client)
	if !ok {
		t.Fatalf("one address gave a %T, want *redis.Client", uc)
	}
	o := c.Options()
	for name, v := range map[string]int{"ReadBufferSize": o.ReadBufferSize, "WriteBufferSize": o.WriteBufferSize,
		"PipelineReadBufferSize": o.PipelineReadBufferSize, "PipelineWriteBufferSize": o.PipelineWriteBufferSize} {
		if v <= 0 || v > 8<<10 {
			t.Errorf("%s = %d, want a small buffer (0 < n <= 8 KiB)", name, v)
		}
	}
	ctx := context.Background()
	big := strings.Repeat("0123456789abcdef", 16<<10) // 256 KiB
	if err := c.Set(ctx, "k", big, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != big {
		t.Errorf("GET of a 256 KiB value: %d bytes, %v", len(got), err)
	}
	if got, err := c.Eval(ctx, "return redis.call('GET', KEYS[1])", []string{"k"}).Text(); err != nil || got != big {
		t.Errorf("script reply of 256 KiB: %d bytes, %v", len(got), err)
	}
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "k2", big+big, time.Minute)
		p.Get(ctx, "k2")
		return nil
	})
	if err != nil || len(cmds) != 2 || cmds[1].(*redis.StringCmd).Val() != big+big {
		t.Errorf("pipeline with a 512 KiB value: %v", err)
	}
}
