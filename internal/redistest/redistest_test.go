package redistest_test

import (
	"testing"

	"github.com/intercom-gateway/intercom-gateway/internal/redistest"
)

func TestStartStopRestart(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("fresh server: %v", err)
	}
	s.Stop()
	if err := s.Ping(t.Context()); err == nil {
		t.Fatal("a stopped server answered")
	}
	s.Restart()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("restarted server: %v", err)
	}
}
