package service

// In-doubt creates.
//
// Intercom has no idempotency key (2.11.yaml createTicket), so when the
// answer to POST /tickets is lost, the gateway cannot ask whether the ticket
// was made. A create with a request_id whose outcome is unknown is therefore
// remembered as in doubt, and the next call with that request_id reconciles
// before it creates anything:
//
//  1. It searches for the ticket the first attempt may have made: same
//     ticket type, created between the attempt's start and end (give or take
//     InDoubtPolicy.ClockSkew), with the requested title, description and
//     contact (POST /tickets/search; the created_at filter uses >=, which the
//     search table allows for created_at). Exactly one match is the ticket:
//     it is remembered and returned.
//  2. No match proves that no ticket was made only once Intercom's search
//     index has had time to show it: InDoubtPolicy.IndexLag after the
//     attempt ended. Intercom documents no freshness for search, so the
//     window is an assumption, 2 minutes by default and configurable. After
//     it, the create is sent again.
//  3. Otherwise (inside the window, a failed search, several matches, or a
//     200 whose body could not be read, which proves the ticket exists) the
//     call is refused with ABORTED, reason CREATE_IN_DOUBT and a RetryInfo
//     saying when to try again. Never a second ticket.
//
// The caller must retry with the same request_id: a new one would create a
// second ticket if the first attempt did make one.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/ratelimit"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// ReasonCreateInDoubt is the ErrorInfo reason of a CreateTicket refused
// because an earlier attempt with the same request_id may have made a
// ticket that cannot be found yet. ReasonRequestIDReused is that of a
// request_id sent again with a different request.
const (
	ReasonCreateInDoubt   = "CREATE_IN_DOUBT"
	ReasonRequestIDReused = "REQUEST_ID_REUSED"
)

// InDoubtPolicy tunes the reconciliation of in-doubt creates.
type InDoubtPolicy struct {
	// IndexLag is how long after a create Intercom's search is assumed to
	// show the ticket. Not finding it earlier proves nothing.
	IndexLag time.Duration
	// ClockSkew widens the created_at window, because created_at is set by
	// Intercom's clock and the attempt was timed by the gateway's.
	ClockSkew time.Duration
	// Poll is the retry hint when waiting for IndexLag does not apply (the
	// ticket exists but is not searchable yet, or the search failed).
	Poll time.Duration
	// MaxPages bounds the search pages read; more candidates than that is
	// ambiguous and refused.
	MaxPages int
}

// DefaultInDoubtPolicy returns the defaults: a 2 minute index lag, 60 s of
// clock skew, a 5 s poll hint and 3 pages of 150.
func DefaultInDoubtPolicy() InDoubtPolicy {
	return InDoubtPolicy{IndexLag: 2 * time.Minute, ClockSkew: time.Minute, Poll: 5 * time.Second, MaxPages: 3}
}

// createWithRequestID runs CreateTicket under the request_id store.
func (s *TicketService) createWithRequestID(ctx context.Context, b Backend, req *gatewayv1.CreateTicketRequest, p upstream.CreateTicketParams) (*gatewayv1.Ticket, error) {
	fp := fingerprint(req)
	rec, err := s.opts.idempotency.Do(ctx, b.Key("CreateTicket", req.GetRequestId()), func(ctx context.Context, prev *InDoubt) (CreateRecord, error) {
		return s.createOrReconcile(ctx, b, p, fp, prev)
	})
	if err != nil {
		return nil, err
	}
	if rec.Fingerprint != "" && rec.Fingerprint != fp {
		return nil, withInfo(codes.FailedPrecondition,
			"request_id was already used for a different CreateTicket request; use a new request_id for a new ticket",
			ReasonRequestIDReused, nil).Err()
	}
	if rec.Ticket != nil {
		t := &gatewayv1.Ticket{}
		if err := proto.Unmarshal(rec.Ticket, t); err != nil {
			return nil, fmt.Errorf("decoding remembered ticket: %w", err)
		}
		return t, nil
	}
	// Remembered by id only (a large ticket): fetch it again.
	t, err := b.Tickets.GetTicket(ctx, rec.TicketID)
	if err != nil {
		return nil, err
	}
	return ticketToProto(t), nil
}

func (s *TicketService) createOrReconcile(ctx context.Context, b Backend, p upstream.CreateTicketParams, fp string, prev *InDoubt) (CreateRecord, error) {
	pol, now := s.opts.inDoubt, s.opts.clock
	if prev != nil {
		if prev.Fingerprint != fp {
			return CreateRecord{Fingerprint: prev.Fingerprint, InDoubt: prev}, nil // refused by the caller
		}
		if rec, err, done := s.reconcile(ctx, b, p, fp, prev); done {
			return rec, err
		}
		// Nothing was made: the search has had IndexLag to show it.
		s.opts.logger.InfoContext(ctx, "in-doubt create settled as not made; creating again", "workspace", b.Workspace)
	}
	start := now()
	t, err := b.Tickets.CreateTicket(ctx, p)
	if err == nil {
		return record(t, fp), nil
	}
	made, doubt := createOutcome(err)
	if !doubt {
		return CreateRecord{}, err // nothing was made: the key is forgotten
	}
	d := &InDoubt{Start: start, End: now(), Created: made, Fingerprint: fp}
	s.opts.inDoubtTel.lost(ctx, b.Workspace)
	s.opts.logger.WarnContext(ctx, "create in doubt: its answer was lost; a retry with the same request_id will reconcile",
		"workspace", b.Workspace, "created", made, "error", ToStatus(err).Message())
	// Look at once: when the index is quick, the caller needs no retry.
	if rec, rerr, done := s.reconcile(ctx, b, p, fp, d); done {
		return rec, rerr
	}
	return CreateRecord{Fingerprint: fp, InDoubt: d}, inDoubtError(d, pol.IndexLag, "the answer to the create was lost")
}

// reconcile looks for the ticket of d. done is false only when it proved
// that no ticket was made (then the caller may create); otherwise rec and err
// are the call's outcome.
func (s *TicketService) reconcile(ctx context.Context, b Backend, p upstream.CreateTicketParams, fp string, d *InDoubt) (rec CreateRecord, err error, done bool) {
	ctx, span := s.opts.inDoubtTel.startReconcile(ctx, b.Workspace)
	defer func() { s.opts.inDoubtTel.endReconcile(ctx, span, b.Workspace, err, done) }()
	pol, now := s.opts.inDoubt, s.opts.clock
	keep := CreateRecord{Fingerprint: fp, InDoubt: d}
	found, err := s.findCreated(ctx, b, p, d)
	switch {
	case errors.Is(err, errAmbiguous):
		return keep, inDoubtError(d, pol.Poll, "several tickets match it"), true
	case err != nil:
		return keep, inDoubtError(d, pol.Poll, "searching for it failed: "+ToStatus(err).Message()), true
	case found != nil:
		s.opts.logger.InfoContext(ctx, "in-doubt create reconciled", "workspace", b.Workspace, "ticket_id", found.ID)
		return record(found, fp), nil, true
	case d.Created:
		// Intercom answered 200: the ticket exists, the index lags.
		return keep, inDoubtError(d, pol.Poll, "Intercom made the ticket but its search does not show it yet"), true
	}
	if wait := d.End.Add(pol.IndexLag).Sub(now()); wait > 0 {
		return keep, inDoubtError(d, wait, "Intercom's search does not show it yet"), true
	}
	return CreateRecord{}, nil, false
}

var errAmbiguous = errors.New("several tickets match")

// findCreated searches for the ticket an in-doubt create of p may have made.
func (s *TicketService) findCreated(ctx context.Context, b Backend, p upstream.CreateTicketParams, d *InDoubt) (*upstream.Ticket, error) {
	pol := s.opts.inDoubt
	from, to := d.Start.Add(-pol.ClockSkew).Unix(), d.End.Add(pol.ClockSkew).Unix()
	filters := []upstream.SearchQuery{
		{Field: "ticket_type_id", Operator: "=", Value: p.TicketTypeID},
		{Field: "created_at", Operator: ">=", Value: from},
	}
	title, _ := p.Attributes["_default_title_"].(string)
	if title != "" {
		filters = append(filters, upstream.SearchQuery{Field: "title", Operator: "=", Value: title})
	}
	for _, c := range p.Contacts {
		if c.ID != "" {
			filters = append(filters, upstream.SearchQuery{Field: "contact_ids", Operator: "=", Value: c.ID})
		}
	}
	q := upstream.SearchQuery{Operator: "AND", Children: filters}
	var match *upstream.Ticket
	cursor := ""
	for range max(pol.MaxPages, 1) {
		page, err := b.Tickets.SearchTickets(ctx, upstream.SearchParams{Query: q, PerPage: maxPageSize, StartingAfter: cursor})
		if err != nil {
			return nil, err
		}
		for i := range page.Tickets {
			t := &page.Tickets[i]
			if t.CreatedAt < from || t.CreatedAt > to || !sameTicket(t, p) {
				continue
			}
			if match != nil && match.ID != t.ID {
				return nil, errAmbiguous
			}
			match = t
		}
		if page.NextStartingAfter == "" {
			return match, nil
		}
		cursor = page.NextStartingAfter
	}
	return nil, errAmbiguous // more candidates than MaxPages pages
}

// sameTicket compares what the create set and the ticket shows: its type,
// contacts given by id or external id (an email cannot be compared: tickets
// list contacts by id), and the default title and description.
func sameTicket(t *upstream.Ticket, p upstream.CreateTicketParams) bool {
	if t.Type != nil && t.Type.ID != "" && t.Type.ID != p.TicketTypeID {
		return false
	}
	for _, c := range p.Contacts {
		ok := c.ID == "" && c.ExternalID == ""
		for _, tc := range t.Contacts {
			if (c.ID != "" && tc.ID == c.ID) || (c.ExternalID != "" && tc.ExternalID == c.ExternalID) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	for _, k := range []string{"_default_title_", "_default_description_"} {
		want, set := p.Attributes[k]
		if !set {
			continue
		}
		if got, ok := t.Attributes[k]; ok && got != want {
			return false
		}
	}
	return true
}

// createOutcome classifies a failed create: made means Intercom answered
// 200 (the ticket exists), doubt that it may exist.
func createOutcome(err error) (made, doubt bool) {
	var uerr *upstream.Error
	var derr *upstream.DecodeError
	var opErr *net.OpError
	switch {
	case errors.As(err, &derr):
		return derr.StatusCode >= 200 && derr.StatusCode < 300, true
	case errors.As(err, &uerr):
		// A 4xx (including 429) is a refusal before anything was made; a
		// 5xx may come after the work was done (a proxy's 502/504).
		return false, uerr.StatusCode >= 500
	case errors.Is(err, upstream.ErrInvalidArgument), errors.Is(err, upstream.ErrUnsupported),
		errors.Is(err, ratelimit.ErrNotSent):
		return false, false // refused before sending
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return false, false // never left the gateway
	}
	if _, ok := status.FromError(err); ok && status.Code(err) != codes.Unknown {
		return false, false // a typed refusal made before sending (caller auth, rate limits)
	}
	// Timeouts, resets and anything unknown: the request may have arrived.
	return false, true
}

func inDoubtError(d *InDoubt, wait time.Duration, why string) error {
	if wait <= 0 {
		wait = time.Second
	}
	msg := "an earlier CreateTicket with this request_id may have made a ticket, and " + why +
		"; retry with the same request_id after the retry delay (a new request_id could make a second ticket)"
	return mustWithDetails(status.New(codes.Aborted, msg),
		&errdetails.ErrorInfo{Reason: ReasonCreateInDoubt, Domain: ErrorDomain, Metadata: map[string]string{
			"attempt_start": d.Start.UTC().Format(time.RFC3339), "attempt_end": d.End.UTC().Format(time.RFC3339),
		}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)},
	).Err()
}

// record is what the store keeps for a created ticket.
func record(t *upstream.Ticket, fp string) CreateRecord {
	rec := CreateRecord{TicketID: t.ID, Fingerprint: fp}
	if b, err := proto.Marshal(ticketToProto(t)); err == nil && len(b) <= maxRememberedTicket {
		rec.Ticket = b
	}
	return rec
}

// fingerprint identifies a create request apart from its request_id.
func fingerprint(req *gatewayv1.CreateTicketRequest) string {
	c := proto.Clone(req).(*gatewayv1.CreateTicketRequest)
	c.RequestId = ""
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
