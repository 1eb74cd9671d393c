package upstream_test

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// A client traces its attempts only when given a tracer provider; without
// one it makes no span, but the trace context and baggage of the call still
// reach Intercom, as W3C traceparent and baggage headers.
func TestTraceContextReachesIntercom(t *testing.T) {
	// telemetry.Setup installs these in the gateway; nothing here runs in
	// parallel with another test that depends on the global propagator.
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))

	caller := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
		Remote:     true,
	})
	member, _ := baggage.NewMember("team", "billing")
	bag, _ := baggage.New(member)

	for _, tc := range []struct {
		name string
		// ctx returns the call's context and, when the caller's own span
		// records, that span and the recorder it ends in.
		ctx func(t *testing.T) (context.Context, trace.Span, *tracetest.SpanRecorder)
		// traced gives the client a tracer provider of its own.
		traced bool
		// wantParent is the span id Intercom's traceparent must carry: the
		// caller's ("caller", or "unsampled caller" with its flags 00), the
		// recording span's ("span") or each attempt span's ("attempt", the
		// only case with attempt spans); "" for no traceparent at all.
		wantParent  string
		wantBaggage string
		// callerParent: the attempt spans are children of the caller's span.
		callerParent bool
	}{
		{name: "no trace, untraced client", ctx: background, wantParent: ""},
		{name: "caller's trace and baggage, untraced client", ctx: func(t *testing.T) (context.Context, trace.Span, *tracetest.SpanRecorder) {
			ctx := trace.ContextWithRemoteSpanContext(t.Context(), caller)
			return baggage.ContextWithBaggage(ctx, bag), nil, nil
		}, wantParent: "caller", wantBaggage: "team=billing"},
		{name: "recording span, untraced client", ctx: recordingSpan, wantParent: "span"},
		{name: "no trace, traced client", ctx: background, traced: true, wantParent: "attempt"},
		{name: "caller's trace, traced client", ctx: func(t *testing.T) (context.Context, trace.Span, *tracetest.SpanRecorder) {
			return trace.ContextWithRemoteSpanContext(t.Context(), caller), nil, nil
		}, traced: true, wantParent: "attempt", callerParent: true},
		// Not sampled upstream: the attempt spans would not be sampled
		// either, so none is made; the decision reaches Intercom.
		{name: "caller's unsampled trace, traced client", ctx: func(t *testing.T) (context.Context, trace.Span, *tracetest.SpanRecorder) {
			return trace.ContextWithRemoteSpanContext(t.Context(), caller.WithTraceFlags(0)), nil, nil
		}, traced: true, wantParent: "unsampled caller"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The first attempt is answered 503, so every case sends two.
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
				if attempt == 1 {
					fixed(http.StatusServiceUnavailable, `{"type":"error.list","errors":[{"code":"service_unavailable"}]}`)(w, r, attempt)
					return
				}
				fixed(http.StatusOK, ticketBody, "X-Request-Id", "req-2")(w, r, attempt)
			})
			var opts []upstream.Option
			attempts := tracetest.NewSpanRecorder()
			if tc.traced {
				opts = append(opts, upstream.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(attempts))))
			}
			c := newClient(t, rec.srv.URL, opts...)
			ctx, own, ownRec := tc.ctx(t)
			if _, err := c.GetTicket(ctx, "7"); err != nil {
				t.Fatalf("GetTicket: %v", err)
			}

			reqs := rec.requests()
			if len(reqs) != 2 {
				t.Fatalf("Intercom received %d requests, want 2", len(reqs))
			}
			spans, wantSpans := attempts.Ended(), 0
			if tc.wantParent == "attempt" {
				wantSpans = len(reqs)
			}
			if len(spans) != wantSpans {
				t.Fatalf("%d attempt spans for %d attempts, want %d", len(spans), len(reqs), wantSpans)
			}
			for i, r := range reqs {
				var want string
				switch tc.wantParent {
				case "caller":
					want = "00-" + caller.TraceID().String() + "-" + caller.SpanID().String() + "-01"
				case "unsampled caller":
					want = "00-" + caller.TraceID().String() + "-" + caller.SpanID().String() + "-00"
				case "span":
					sc := own.SpanContext()
					want = "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
				case "attempt":
					sc := spans[i].SpanContext()
					want = "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
					if p := spans[i].Parent(); p.IsValid() != tc.callerParent || (tc.callerParent && p.SpanID() != caller.SpanID()) {
						t.Errorf("attempt %d span's parent = %s, want the caller's: %v", i+1, p.SpanID(), tc.callerParent)
					}
				}
				if got := r.Header.Get("Traceparent"); got != want {
					t.Errorf("attempt %d: traceparent %q, want %q", i+1, got, want)
				}
				if got := r.Header.Get("Baggage"); got != tc.wantBaggage {
					t.Errorf("attempt %d: baggage %q, want %q", i+1, got, tc.wantBaggage)
				}
			}
			// An untraced client leaves the caller's span as it was: the
			// attempt's attributes belong to attempt spans only.
			if own != nil {
				own.End()
				ended := ownRec.Ended()
				if len(ended) != 1 {
					t.Fatalf("%d spans ended, want only the caller's", len(ended))
				}
				for _, a := range ended[0].Attributes() {
					t.Errorf("the caller's span got the attempt attribute %s=%s", a.Key, a.Value.Emit())
				}
			}
		})
	}
}

func background(t *testing.T) (context.Context, trace.Span, *tracetest.SpanRecorder) {
	return t.Context(), nil, nil
}

// recordingSpan is a call traced by a provider the client was not given,
// as a gRPC server span is when an untraced client serves it.
func recordingSpan(t *testing.T) (context.Context, trace.Span, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	ctx, span := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("test").Start(t.Context(), "call")
	return ctx, span, rec
}
