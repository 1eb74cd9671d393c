package telemetry_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/intercom-gateway/intercom-gateway/auth"
	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// Real-looking secrets: an Intercom access token (base64 of "tok:..."), a
// password in the Intercom base URL, a gateway caller key, its HMAC hash
// and the HMAC secret.
const (
	intercomToken   = "dG9rOjNmNWY2YjI4XzkyYTFfNGM1ZF9iYjEwXzZkZTNjMGE1ZjE3YToxOjA="
	baseURLPassword = "pw-7c1e0b9a4d"
	hmacSecret      = "hmac-secret-0f9d8c7b6a5e4d3c2b1a"
)

// A run over REST and gRPC, successes and failures (an Intercom 503, a
// 404, a refused token), with secrets in every place a caller or operator
// puts them; then every exported span (names, attributes, events, status,
// resource), every log line and every metric series and label is scanned
// for them.
func TestNoSecretInSpansLogsOrMetrics(t *testing.T) {
	key, err := auth.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	keyHash := auth.HashKey([]byte(hmacSecret), key).Reveal()
	secrets := map[string]string{
		"Intercom token": intercomToken, "base URL password": baseURLPassword,
		"caller key": key, "key hash": keyHash, "HMAC secret": hmacSecret,
	}

	for _, tc := range []struct {
		name    string
		sandbox []sandbox.Option
	}{
		{"token accepted", nil},
		{"token refused by Intercom", []sandbox.Option{sandbox.WithTokens("some-other-token")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startStack(t, stackConfig{
				token:   intercomToken,
				baseURL: func(u string) string { return strings.Replace(u, "http://", "http://gateway:"+baseURLPassword+"@", 1) },
				sandbox: tc.sandbox,
			})
			s.sb.SetFault("listTicketTypes", sandbox.Fault{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable, Remaining: 1})
			authz := http.Header{"Authorization": {"Bearer " + key}, "Traceparent": {callerParent}, "Baggage": {"tenant=blue"}}
			s.get(t, "/v1/tickets/"+sandbox.SeedTicketLogin, authz)
			s.get(t, "/v1/tickets/999999", authz)
			s.get(t, "/v1/ticket-types", authz)
			ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key, "x-api-key", key)
			_, _ = gatewayv1.NewTicketServiceClient(s.conn).GetTicket(ctx, &gatewayv1.GetTicketRequest{TicketId: sandbox.SeedTicketLogin})
			_, _ = gatewayv1.NewTagServiceClient(s.conn).ListTags(ctx, &gatewayv1.ListTagsRequest{})
			s.stop()

			spans := s.spans.GetSpans()
			if len(spans) < 10 {
				t.Fatalf("only %d spans: the run did not happen as scripted", len(spans))
			}
			var exported []string // everything a trace backend would receive
			for _, sp := range spans {
				exported = append(exported, sp.Name, sp.Status.Description)
				for _, kv := range sp.Attributes {
					exported = append(exported, string(kv.Key)+"="+kv.Value.Emit())
				}
				for _, ev := range sp.Events {
					exported = append(exported, ev.Name)
					for _, kv := range ev.Attributes {
						exported = append(exported, string(kv.Key)+"="+kv.Value.Emit())
					}
				}
				for _, kv := range sp.Resource.Attributes() {
					exported = append(exported, string(kv.Key)+"="+kv.Value.Emit())
				}
			}
			logs := s.logs.String()
			if len(accessLines(t, s.logs)) != 5 {
				t.Errorf("%d access-log lines, want 5 (one per call)", len(accessLines(t, s.logs)))
			}
			metrics := s.scrape(t)
			for what, secret := range secrets {
				for _, where := range []struct{ name, text string }{
					{"span", strings.Join(exported, "\n")}, {"log", logs}, {"metrics", metrics},
				} {
					if strings.Contains(where.text, secret) {
						t.Errorf("the %s appears in the %s output:\n%s", what, where.name, around(where.text, secret))
					}
				}
			}
			// The recorded requests prove the secrets were really in play.
			if got := s.sb.Requests(); len(got) == 0 || got[0].Header.Get("Authorization") != "Bearer "+intercomToken {
				t.Fatalf("the sandbox did not receive the token; the scan proves nothing")
			}
		})
	}
}

func around(text, secret string) string {
	i := strings.Index(text, secret)
	lo, hi := max(0, i-200), min(len(text), i+len(secret)+100)
	return fmt.Sprintf("...%s...", text[lo:hi])
}
