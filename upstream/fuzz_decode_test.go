package upstream_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// bodyTransport answers every request with 200 and the fuzzed body, in
// process, so that the fuzzer spends its time in the client's decoding.
type bodyTransport struct{ body []byte }

func (b *bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(b.body)), Request: r}, nil
}

// FuzzDecodeResources feeds arbitrary 200 bodies to every read of every
// resource, in the oldest and the newest version shape (2.11 and Preview):
// the client never panics, and a body it cannot use is a *DecodeError
// (which the service maps to UNAVAILABLE INTERCOM_MALFORMED_RESPONSE).
func FuzzDecodeResources(f *testing.F) {
	for _, s := range []string{
		`{"type":"ticket","id":"1","ticket_attributes":{"_default_title_":"x"},"ticket_state":{"id":"1","category":"submitted"}}`,
		`{"type":"ticket","id":"1","ticket_state":"submitted","ticket_type":{"type":"ticket_type","id":"1"}}`,
		`{"type":"ticket_type","id":"1","name":"Bug","ticket_type_attributes":{"type":"list","data":[{"type":"ticket_type_attribute","id":"2","data_type":"string"}]}}`,
		`{"type":"list","data":[{"type":"tag","id":"1","name":"vip"}]}`,
		`{"type":"ticket_type_attributes.list","ticket_types":[{"type":"ticket_type","id":"1"}]}`,
		`{"type":"ticket.list","tickets":[{"type":"ticket","id":"1"}],"total_count":1,"pages":{"type":"pages","next":{"starting_after":"abc"}}}`,
		`{"type":"list","data":[{"type":"ticket_state","id":"1","category":"submitted"}]}`,
		`{"type":"tag","id":"1","name":"vip","applied_at":1700000000}`,
		`{`, `null`, `[]`, `{"id":1}`, `{"type":"ticket","id":"1","created_at":"yesterday"}`,
	} {
		f.Add(uint8(0), []byte(s))
	}
	versions := []upstream.Version{"2.11", upstream.VersionPreview}
	reads := []func(context.Context, *upstream.Client) error{
		func(ctx context.Context, c *upstream.Client) error { _, err := c.GetTicket(ctx, "1"); return err },
		func(ctx context.Context, c *upstream.Client) error { _, err := c.GetTicketType(ctx, "1"); return err },
		func(ctx context.Context, c *upstream.Client) error { _, err := c.ListTicketTypes(ctx); return err },
		func(ctx context.Context, c *upstream.Client) error { _, err := c.GetTag(ctx, "1"); return err },
		func(ctx context.Context, c *upstream.Client) error { _, err := c.ListTags(ctx); return err },
		func(ctx context.Context, c *upstream.Client) error { _, err := c.ListTicketStates(ctx); return err },
		func(ctx context.Context, c *upstream.Client) error {
			_, err := c.SearchTickets(ctx, upstream.SearchParams{Query: upstream.SearchQuery{Field: "title", Operator: "=", Value: "x"}})
			return err
		},
	}
	// One client per version for the whole run: building a client is not
	// what is fuzzed, and it was half of each input's cost. A fuzz worker
	// runs its inputs one at a time, so the transport's body can be set
	// per input.
	tr := &bodyTransport{}
	clients := make([]*upstream.Client, len(versions))
	for i, v := range versions {
		c, err := upstream.New(upstream.WithToken("t"), upstream.WithBaseURL("http://intercom.invalid"), upstream.WithVersion(v),
			upstream.WithTransport(tr), upstream.WithRetryPolicy(upstream.RetryPolicy{MaxAttempts: 1}))
		if err != nil {
			f.Fatal(err)
		}
		clients[i] = c
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		read := reads[int(which)%len(reads)]
		tr.body = body
		for i, v := range versions {
			err := read(context.Background(), clients[i])
			var de *upstream.DecodeError
			if err != nil && !errors.As(err, &de) {
				t.Fatalf("version %s: a 200 body gave %T %v, want nil or *upstream.DecodeError", v, err, err)
			}
		}
	})
}
