package upstream_test

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/intercom-gateway/intercom-gateway/internal/intercomspec"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// knownMismatch is a request the client sends on purpose although the published description rejects it.
type knownMismatch struct {
	// versions are the descriptions ("2.12" … "unstable") that reject it.
	versions []string
	why      string
}

// knownSpecMismatches lists, by request case name, the requests the client sends on purpose although a
// description rejects them. The contract test requires these to fail validation in exactly the listed
// versions, so the list cannot silently go stale: when a description or the encoding changes, the entry
// must change too.
var knownSpecMismatches = map[string]knownMismatch{
	// update_ticket_request.company_id is a non-nullable string in 2.12.yaml to 2.16.yaml and
	// unstable.yaml, yet its description says "Set to nil to remove"; null is the only way to express
	// removal. 2.11.yaml has no company_id on update, so the client refuses it there before sending.
	"updateTicket Preview removes company": {
		versions: []string{"2.12", "2.13", "2.14", "2.15", "2.16", "unstable"},
		why:      "company_id: null to remove the company",
	},
	// Not a body mismatch: the validator's router matches the unescaped path, so an id containing "/"
	// (sent correctly as %2F) looks like an unknown path in every version. The case exists to test escaping.
	"getTicket escapes the id": {versions: intercomspec.Versions, why: "router unescapes %2F"},
}

// TestRequestsMatchSpec validates every request the client can send against the description of the
// version it was sent with (../shared/intercom-openapi; skipped when absent), for each supported
// version: every request case runs on a client of each of 2.11 … 2.16 and Preview. On its own version a
// case must send its request; on another version it may instead be refused (ErrUnsupported, before
// sending anything, or ErrInvalidArgument). Each description is loaded once
// per test binary and the versions run in parallel.
func TestRequestsMatchSpec(t *testing.T) {
	t.Parallel()
	intercomspec.Load(t, "2.11") // skips the whole test when the descriptions are absent
	for _, version := range upstream.SupportedVersions() {
		t.Run(string(version), func(t *testing.T) {
			t.Parallel()
			intercomspec.Load(t, intercomspec.FromHeader(string(version)))
			for _, tc := range requestCases() {
				t.Run(tc.name, func(t *testing.T) {
					rec := newRecorder(t, fixed(http.StatusOK, tc.response))
					c := newClient(t, rec.srv.URL, upstream.WithVersion(version))
					own := tc.version == version
					err := tc.call(t.Context(), c)
					reqs := rec.requests()
					switch {
					case err == nil:
					case own:
						t.Fatalf("call on its own version: %v", err)
					case errors.Is(err, upstream.ErrUnsupported):
						if len(reqs) != 0 {
							t.Fatalf("refused (%v) after sending %d requests", err, len(reqs))
						}
					case errors.Is(err, upstream.ErrInvalidArgument):
						// A state category is resolved from 2.12 on by reading the ticket first; the canned
						// answer has no ticket type, so the update itself is refused. What was sent is checked.
					default:
						t.Fatalf("call: %v", err)
					}
					if own && len(reqs) != 1 {
						t.Fatalf("sent %d requests, want 1", len(reqs))
					}
					known, isKnown := knownSpecMismatches[tc.name]
					for _, got := range reqs {
						spec := intercomspec.FromHeader(got.Header.Get("Intercom-Version"))
						err := intercomspec.ValidateRequest(t, spec, got.Req, got.Body)
						listed := isKnown && slices.Contains(known.versions, spec)
						switch {
						case listed && err == nil:
							t.Errorf("listed as a known mismatch in %s (%s) but validates; correct the entry", spec, known.why)
						case !listed && err != nil:
							t.Errorf("%s %s does not match the %s description: %v\nbody: %s", got.Method, got.Path, spec, err, got.Body)
						}
					}
				})
			}
		})
	}
}

// TestVersionGates checks that what a version's description lacks is refused before anything is sent,
// with ErrUnsupported naming the first version that has it, and that the next version sends it.
func TestVersionGates(t *testing.T) {
	t.Parallel()
	opts := []upstream.ReplyOption{{Text: "A", UUID: "0b5c8d53-8b0c-4a4f-9d7e-2f0c3c1a9d12"}}
	gates := []struct {
		name  string
		first upstream.Version // the first version that has it; the one before must refuse
		call  func(*testing.T, *upstream.Client) error
	}{
		{"update ticket_state_id", "2.12", func(t *testing.T, c *upstream.Client) error {
			return ignore(c.UpdateTicket(t.Context(), "7", upstream.UpdateTicketParams{StateID: ptr("1")}))
		}},
		{"update company_id", "2.12", func(t *testing.T, c *upstream.Client) error {
			return ignore(c.UpdateTicket(t.Context(), "7", upstream.UpdateTicketParams{CompanyID: ptr("co")}))
		}},
		{"create skip_notifications", "2.13", func(t *testing.T, c *upstream.Client) error {
			return ignore(c.CreateTicket(t.Context(), upstream.CreateTicketParams{TicketTypeID: "1",
				Contacts: []upstream.ContactIdentifier{{ID: "c"}}, SkipNotifications: true}))
		}},
		{"update skip_notifications", "2.13", func(t *testing.T, c *upstream.Client) error {
			return ignore(c.UpdateTicket(t.Context(), "7", upstream.UpdateTicketParams{SkipNotifications: ptr(true)}))
		}},
		{"reply skip_notifications", "2.13", func(t *testing.T, c *upstream.Client) error {
			return ignore(c.ReplyToTicket(t.Context(), "7", upstream.ReplyParams{AuthorType: "admin", AdminID: "1",
				MessageType: "note", Body: "x", SkipNotifications: true}))
		}},
		{"create assignment", "2.14", func(t *testing.T, c *upstream.Client) error {
			return ignore(c.CreateTicket(t.Context(), upstream.CreateTicketParams{TicketTypeID: "1",
				Contacts: []upstream.ContactIdentifier{{ID: "c"}}, AdminAssigneeID: "5"}))
		}},
		{"contact reply_options", "2.14", func(t *testing.T, c *upstream.Client) error {
			return ignore(c.ReplyToTicket(t.Context(), "7", upstream.ReplyParams{AuthorType: "user", Email: "a@example.com",
				Body: "x", ReplyOptions: opts}))
		}},
		{"delete ticket without the Preview fallback", "2.13", func(t *testing.T, c *upstream.Client) error {
			return ignore(c.DeleteTicket(t.Context(), "7"))
		}},
		{"list ticket states without the Preview fallback", "2.12", func(t *testing.T, c *upstream.Client) error {
			return ignore(c.ListTicketStates(t.Context()))
		}},
	}
	all := upstream.SupportedVersions()
	for _, g := range gates {
		i := slices.Index(all, g.first)
		for _, tc := range []struct {
			version upstream.Version
			refused bool
		}{{all[i-1], true}, {g.first, false}, {upstream.VersionPreview, false}} {
			t.Run(g.name+"/"+string(tc.version), func(t *testing.T) {
				t.Parallel()
				rec := newRecorder(t, fixed(http.StatusOK, `{"type":"list","data":[]}`))
				c := newClient(t, rec.srv.URL, upstream.WithVersion(tc.version), upstream.WithoutPreviewFallback())
				err := g.call(t, c)
				sent := len(rec.requests())
				if !tc.refused {
					if errors.Is(err, upstream.ErrUnsupported) || sent == 0 {
						t.Fatalf("refused on %s (sent %d): %v", tc.version, sent, err)
					}
					return
				}
				if !errors.Is(err, upstream.ErrUnsupported) {
					t.Fatalf("err = %v, want ErrUnsupported", err)
				}
				if sent != 0 {
					t.Errorf("sent %d requests before refusing", sent)
				}
				if !strings.Contains(err.Error(), "Intercom-Version "+string(g.first)+" or later") ||
					!strings.Contains(err.Error(), "uses "+string(tc.version)) {
					t.Errorf("error %q does not name the first version (%s) and the workspace's (%s)", err, g.first, tc.version)
				}
			})
		}
	}
}

// TestPreviewFallbackIsLogged: a 2.11 or 2.12 workspace deletes tickets with Intercom-Version Preview,
// and every such call is logged with version_fallback=true; a 2.13 workspace uses its own version and
// logs nothing.
func TestPreviewFallbackIsLogged(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version  upstream.Version
		wantSent upstream.Version
		wantLog  bool
	}{{"2.11", upstream.VersionPreview, true}, {"2.12", upstream.VersionPreview, true}, {"2.13", "2.13", false}} {
		t.Run(string(tc.version), func(t *testing.T) {
			t.Parallel()
			var logs strings.Builder
			rec := newRecorder(t, fixed(http.StatusOK, deletedBody))
			c := newClient(t, rec.srv.URL, upstream.WithVersion(tc.version),
				upstream.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
			if got := c.PreviewFallback(upstream.OpDeleteTicket); got != tc.wantLog {
				t.Errorf("PreviewFallback(deleteTicket) = %v, want %v", got, tc.wantLog)
			}
			logs.Reset() // keep only what the call logs
			if _, err := c.DeleteTicket(t.Context(), "7"); err != nil {
				t.Fatal(err)
			}
			reqs := rec.requests()
			if len(reqs) != 1 || reqs[0].Header.Get("Intercom-Version") != string(tc.wantSent) {
				t.Fatalf("sent %d requests, version %q; want 1 with %s", len(reqs), reqs[0].Header.Get("Intercom-Version"), tc.wantSent)
			}
			got := logs.String()
			if has := strings.Contains(got, `"version_fallback":true`); has != tc.wantLog {
				t.Errorf("version_fallback logged = %v, want %v: %s", has, tc.wantLog, got)
			}
			if tc.wantLog && (!strings.Contains(got, `"operation":"deleteTicket"`) || !strings.Contains(got, `"configured_version":"`+string(tc.version)+`"`)) {
				t.Errorf("log record lacks operation or configured version: %s", got)
			}
			if strings.Contains(got, testToken) {
				t.Errorf("log contains the token: %s", got)
			}
		})
	}
}
