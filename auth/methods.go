package auth

import (
	"fmt"
	"strings"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
)

// Kind says whether an RPC only reads Intercom data or changes it.
type Kind int

const (
	// Read RPCs change nothing in Intercom.
	Read Kind = iota + 1
	// Write RPCs create, change or delete something in Intercom.
	Write
)

func (k Kind) String() string {
	switch k {
	case Read:
		return "read"
	case Write:
		return "write"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// methodKinds classifies every RPC of the gateway's services. An RPC that is
// missing here is refused to every caller (METHOD_NOT_ALLOWED), and a test
// fails until it is added, so a new RPC is never open by accident.
//
// The rule: anything Intercom would record as a change is Write, including
// tagging, replying and deleting. Searches are Read even though they are
// POSTs, because they change nothing.
var methodKinds = map[string]Kind{
	gatewayv1.TicketService_CreateTicket_FullMethodName:        Write,
	gatewayv1.TicketService_GetTicket_FullMethodName:           Read,
	gatewayv1.TicketService_UpdateTicket_FullMethodName:        Write,
	gatewayv1.TicketService_DeleteTicket_FullMethodName:        Write,
	gatewayv1.TicketService_ReplyToTicket_FullMethodName:       Write,
	gatewayv1.TicketService_AttachTag_FullMethodName:           Write,
	gatewayv1.TicketService_DetachTag_FullMethodName:           Write,
	gatewayv1.TicketService_SearchTickets_FullMethodName:       Read,
	gatewayv1.TicketService_StreamSearchTickets_FullMethodName: Read,

	gatewayv1.TicketTypeService_ListTicketTypes_FullMethodName:           Read,
	gatewayv1.TicketTypeService_GetTicketType_FullMethodName:             Read,
	gatewayv1.TicketTypeService_CreateTicketType_FullMethodName:          Write,
	gatewayv1.TicketTypeService_UpdateTicketType_FullMethodName:          Write,
	gatewayv1.TicketTypeService_CreateTicketTypeAttribute_FullMethodName: Write,
	gatewayv1.TicketTypeService_UpdateTicketTypeAttribute_FullMethodName: Write,
	gatewayv1.TicketTypeService_ListTicketStates_FullMethodName:          Read,

	gatewayv1.TagService_ListTags_FullMethodName:          Read,
	gatewayv1.TagService_GetTag_FullMethodName:            Read,
	gatewayv1.TagService_CreateTag_FullMethodName:         Write,
	gatewayv1.TagService_UpdateTag_FullMethodName:         Write,
	gatewayv1.TagService_DeleteTag_FullMethodName:         Write,
	gatewayv1.TagService_TagContact_FullMethodName:        Write,
	gatewayv1.TagService_UntagContact_FullMethodName:      Write,
	gatewayv1.TagService_ListContactTags_FullMethodName:   Read,
	gatewayv1.TagService_TagConversation_FullMethodName:   Write,
	gatewayv1.TagService_UntagConversation_FullMethodName: Write,
	gatewayv1.TagService_TagCompanies_FullMethodName:      Write,
	gatewayv1.TagService_UntagCompanies_FullMethodName:    Write,
}

// gatewayPackage is the proto package of the services methodKinds covers.
const gatewayPackage = "intercom.gateway.v1."

// MethodKind returns the classification of a gRPC full method name such as
// "/intercom.gateway.v1.TicketService/GetTicket"; ok is false for a method
// that is not one of the gateway's RPCs.
func MethodKind(fullMethod string) (k Kind, ok bool) {
	k, ok = methodKinds[fullMethod]
	return k, ok
}

// Methods returns the full names of every classified RPC.
func Methods() []string {
	out := make([]string, 0, len(methodKinds))
	for m := range methodKinds {
		out = append(out, m)
	}
	return out
}

// splitMethod turns "/intercom.gateway.v1.TicketService/GetTicket" into the
// short names the configuration uses, "TicketService" and "GetTicket".
func splitMethod(fullMethod string) (service, method string) {
	s, m, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	return strings.TrimPrefix(s, gatewayPackage), m
}
