package upstream_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// TestUpdateResolvesStateCategory: from 2.12 on update has no `state` field, so a category is turned
// into a ticket_state_id of the ticket's type, skipping archived states and other types' states.
func TestUpdateResolvesStateCategory(t *testing.T) {
	t.Parallel()
	const typeWithStates = `{"type":"ticket_type","id":"112","ticket_states":{"type":"list","data":[
		{"type":"ticket_state","id":"s-old","category":"resolved","archived":true},
		{"type":"ticket_state","id":"s-done","category":"resolved"}]}}`
	const typeWithoutStates = `{"type":"ticket_type","id":"112"}`
	const states = `{"type":"list","data":[
		{"type":"ticket_state","id":"s-other","category":"resolved","ticket_types":{"type":"list","data":[{"type":"ticket_type","id":"999"}]}},
		{"type":"ticket_state","id":"s-arch","category":"resolved","archived":true,"ticket_types":{"type":"list","data":[{"type":"ticket_type","id":"112"}]}},
		{"type":"ticket_state","id":"s-wait","category":"waiting_on_customer","ticket_types":{"type":"list","data":[{"type":"ticket_type","id":"112"}]}},
		{"type":"ticket_state","id":"s-112","category":"resolved","ticket_types":{"type":"list","data":[{"type":"ticket_type","id":"112"},{"type":"ticket_type","id":"5"}]}}]}`
	tests := []struct {
		name      string
		ticket    string
		category  string
		wantCalls []string
		wantBody  string // of the PUT; "" when none is sent
	}{
		{"states from the ticket's type", typeWithStates, "resolved",
			[]string{"GET /tickets/7", "PUT /tickets/7"}, `{"ticket_state_id":"s-done"}`},
		{"states from GET /ticket_states", typeWithoutStates, "resolved",
			[]string{"GET /tickets/7", "GET /ticket_states", "PUT /tickets/7"}, `{"ticket_state_id":"s-112"}`},
		{"no state of that category", typeWithoutStates, "in_progress",
			[]string{"GET /tickets/7", "GET /ticket_states"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
				body := ticketBody
				switch {
				case r.Method == http.MethodGet && r.URL.Path == "/tickets/7":
					body = `{"type":"ticket","id":"7","ticket_state":{"type":"ticket_state","id":"s-new","category":"submitted"},"ticket_type":` + tt.ticket + `}`
				case r.URL.Path == "/ticket_states":
					body = states
				}
				fixed(http.StatusOK, body)(w, r, attempt)
			})
			c := newClient(t, rec.srv.URL, upstream.WithVersion(upstream.VersionPreview))
			_, err := c.UpdateTicket(t.Context(), "7", upstream.UpdateTicketParams{StateCategory: ptr(tt.category)})
			var calls []string
			var put []byte
			for _, r := range rec.requests() {
				calls = append(calls, r.Method+" "+r.Path)
				if r.Method == http.MethodPut {
					put = r.Body
				}
			}
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if tt.wantBody == "" {
				if !errors.Is(err, upstream.ErrInvalidArgument) {
					t.Errorf("err = %v, want ErrInvalidArgument", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(decodeJSON(t, tt.wantBody), decodeJSON(t, string(put))); diff != "" {
				t.Errorf("PUT body (-want +got):\n%s", diff)
			}
		})
	}
}
