package main

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuilder is a strings.Builder safe for the flusher and the test.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogWriterFlushes: buffered lines reach the output on their own, Close
// writes what is pending, and lines written after Close are not held back.
func TestLogWriterFlushes(t *testing.T) {
	t.Parallel()
	var out lockedBuilder
	w := newLogWriter(&out)
	_, _ = w.Write([]byte("one\n"))
	for deadline := time.Now().Add(10 * time.Second); out.String() != "one\n"; {
		if time.Now().After(deadline) {
			t.Fatalf("output %q: a buffered line was never flushed", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	_, _ = w.Write([]byte("two\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "one\ntwo\n" {
		t.Errorf("after Close: %q, want both lines in order", got)
	}
	_, _ = w.Write([]byte("three\n"))
	if got := out.String(); got != "one\ntwo\nthree\n" {
		t.Errorf("a line written after Close: %q, want it written at once", got)
	}
}
