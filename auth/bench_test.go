package auth_test

import (
	"fmt"
	"testing"

	"github.com/intercom-gateway/intercom-gateway/auth"
	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
)

// BenchmarkAuthenticate measures one successful Authenticate as the number
// of callers grows; the key lookup is indexed, so the cost should not grow.
func BenchmarkAuthenticate(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) {
			callers := make([]auth.Caller, n)
			var last string
			for i := range callers {
				k1, _ := auth.NewKey()
				k2, _ := auth.NewKey()
				last = k2
				callers[i] = auth.Caller{
					ID:          fmt.Sprintf("caller-%d", i),
					KeyHashes:   []auth.KeyHash{auth.HashKey(testSecret, k1), auth.HashKey(testSecret, k2)},
					Workspaces:  []string{"us"},
					Permissions: auth.Permissions{Services: map[string]auth.Access{"*": auth.AccessRead}},
				}
			}
			a, err := auth.New(auth.Config{Secret: testSecret, Callers: callers})
			if err != nil {
				b.Fatal(err)
			}
			req := auth.Request{FullMethod: gatewayv1.TicketService_GetTicket_FullMethodName, Authorization: []string{"Bearer " + last}}
			for b.Loop() {
				if _, err := a.Authenticate(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
