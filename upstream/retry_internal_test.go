package upstream

import (
	"fmt"
	"testing"
	"time"
)

// TestBackoff pins the schedule documented on RetryPolicy: min(MaxBackoff, BaseBackoff·2^(n-1)) plus at
// most Jitter of it. The wait itself cannot be observed from outside without timing the client, so this
// one test looks inside.
func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{3, 400 * time.Millisecond},
		{4, 800 * time.Millisecond},
		{5, time.Second},
		{40, time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("attempt %d", tt.attempt), func(t *testing.T) {
			t.Parallel()
			exact := RetryPolicy{MaxAttempts: 2, BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
			if got := exact.backoff(tt.attempt); got != tt.want {
				t.Errorf("backoff(%d) without jitter = %v, want %v", tt.attempt, got, tt.want)
			}
			jittered := exact
			jittered.Jitter = 0.5
			for range 50 {
				if got := jittered.backoff(tt.attempt); got < tt.want || got > tt.want+tt.want/2 {
					t.Fatalf("backoff(%d) with jitter 0.5 = %v, want within [%v, %v]", tt.attempt, got, tt.want, tt.want+tt.want/2)
				}
			}
		})
	}
}
