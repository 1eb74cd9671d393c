"""An example Python client of intercom-gateway over gRPC.

Stubs are generated from the proto bundle (`make proto-bundle`) with Debian's
protoc and grpc_python_plugin into gen/ (see generate.sh), and calls use
Debian's python3-grpcio. Run it with /usr/bin/python3, which sees the Debian
packages. It walks through what a team usually does first and checks every
answer, so that a broken example fails the build (the gateway's tests run it).

Environment: GATEWAY_GRPC (default 127.0.0.1:9090), GATEWAY_HTTP (default
http://127.0.0.1:8080, used only to switch on a sandbox fault), GATEWAY_KEY (a
gateway key; optional when the gateway runs open), GATEWAY_WORKSPACE
(optional), GATEWAY_ADMIN_ID (default: the sandbox's admin Ada).
"""

import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))

import grpc  # noqa: E402
from google.protobuf import struct_pb2  # noqa: E402
from google.rpc import error_details_pb2, status_pb2  # noqa: E402
from intercom.gateway.v1 import (  # noqa: E402
    tag_service_pb2,
    tag_service_pb2_grpc,
    ticket_search_pb2 as search,
    ticket_service_pb2 as tickets_pb,
    ticket_service_pb2_grpc,
    ticket_type_pb2,
    ticket_type_service_pb2 as types_pb,
    ticket_type_service_pb2_grpc,
)

GRPC = os.environ.get("GATEWAY_GRPC", "127.0.0.1:9090")
HTTP = os.environ.get("GATEWAY_HTTP", "http://127.0.0.1:8080")
KEY = os.environ.get("GATEWAY_KEY", "")
WORKSPACE = os.environ.get("GATEWAY_WORKSPACE", "")
ADMIN_ID = os.environ.get("GATEWAY_ADMIN_ID", "991267943")


def check(ok, what):
    if not ok:
        raise SystemExit(f"check failed: {what}")
    print(f"ok: {what}")


def metadata():
    """The gateway key and workspace go with every call; the Intercom token
    never leaves the gateway."""
    md = []
    if KEY:
        md.append(("authorization", f"Bearer {KEY}"))
    if WORKSPACE:
        md.append(("x-intercom-workspace", WORKSPACE))
    return md


def details(err):
    """Decodes the google.rpc.Status details the gateway sends in the
    grpc-status-details-bin trailer (python3-grpcio has no grpcio-status)."""
    for k, v in err.trailing_metadata() or ():
        if k == "grpc-status-details-bin":
            st = status_pb2.Status.FromString(v)
            return list(st.details)
    return []


def unpack(anys, cls):
    out = []
    for a in anys:
        if a.Is(cls.DESCRIPTOR):
            m = cls()
            a.Unpack(m)
            out.append(m)
    return out


def value(v):
    """ticket_attributes are google.protobuf.Value. Numbers are doubles on
    the wire, so an integer attribute reads back as 42.0: use int(v.number_value)."""
    if isinstance(v, bool):
        return struct_pb2.Value(bool_value=v)
    if isinstance(v, (int, float)):
        return struct_pb2.Value(number_value=v)
    return struct_pb2.Value(string_value=v)


def str_filter(field, op, s):
    return search.TicketQuery(filter=search.TicketFilter(field=field, operator=op, value=search.FilterValue(string_value=s)))


def main():
    channel = grpc.insecure_channel(GRPC)
    tickets = ticket_service_pb2_grpc.TicketServiceStub(channel)
    types = ticket_type_service_pb2_grpc.TicketTypeServiceStub(channel)
    tags = tag_service_pb2_grpc.TagServiceStub(channel)
    md = metadata()
    run = format(int(time.time() * 1000), "x")
    prefix = f"Python example {run}"

    # 1. A ticket type with a list attribute.
    tt = types.CreateTicketType(types_pb.CreateTicketTypeRequest(
        name=f"Python example type {run}", description="Made by examples/python",
        category=ticket_type_pb2.TICKET_CATEGORY_CUSTOMER), metadata=md).ticket_type
    check(tt.id != "", f"created ticket type {tt.id}")
    attr = types.CreateTicketTypeAttribute(types_pb.CreateTicketTypeAttributeRequest(
        ticket_type_id=tt.id, name="Severity", description="How bad it is",
        data_type=ticket_type_pb2.ATTRIBUTE_DATA_TYPE_LIST, list_items=["Low", "High"]), metadata=md).attribute
    check(attr.name == "Severity", "created list attribute Severity (Low, High)")

    # 2. Tickets with attributes; the list attribute is given by its label.
    created = []
    for n in (1, 2, 3):
        t = tickets.CreateTicket(tickets_pb.CreateTicketRequest(
            ticket_type_id=tt.id,
            contacts=[tickets_pb.ContactIdentifier(email="alice@example.com")],
            ticket_attributes={
                "_default_title_": value(f"{prefix} #{n}"),
                "_default_description_": value("Filed by the Python example"),
                "Severity": value("High"),
            },
            request_id=f"py-example-{run}-{n}"), metadata=md).ticket
        check(t.id != "", f"created ticket {t.id}")
        created.append(t.id)

    # 3. A compound query (type AND title prefix), paged two at a time.
    query = search.TicketQuery(group=search.TicketFilterGroup(
        operator=search.LOGICAL_OPERATOR_AND,
        queries=[
            str_filter(search.TICKET_SEARCH_FIELD_TICKET_TYPE_ID, search.FILTER_OPERATOR_EQUALS, tt.id),
            str_filter(search.TICKET_SEARCH_FIELD_DEFAULT_TITLE, search.FILTER_OPERATOR_STARTS_WITH, prefix),
        ]))
    paged, token, pages = [], "", 0
    while True:
        page = tickets.SearchTickets(tickets_pb.SearchTicketsRequest(query=query, page_size=2, page_token=token), metadata=md)
        paged += [t.id for t in page.tickets]
        pages += 1
        token = page.next_page_token
        if not token or pages >= 10:
            break
    check(len(paged) == 3 and pages == 2, f"search paged {len(paged)} tickets over {pages} pages")

    # 4. The same query as a stream: the gateway follows Intercom's cursor.
    streamed = [m.ticket.id for m in tickets.StreamSearchTickets(
        tickets_pb.StreamSearchTicketsRequest(query=query, page_size=2), metadata=md)]
    check(len(streamed) == 3, f"stream returned {len(streamed)} tickets")

    # 5. Tag the first ticket.
    tag = tags.CreateTag(tag_service_pb2.CreateTagRequest(name=f"py-example-{run}"), metadata=md).tag
    attached = tickets.AttachTag(tickets_pb.AttachTagRequest(ticket_id=created[0], tag_id=tag.id, admin_id=ADMIN_ID), metadata=md)
    check(attached.tag.id == tag.id, f"tagged ticket {created[0]} with {tag.name}")

    # 6. A mapped error: an unknown list label is refused before Intercom
    # sees it, with one field violation per problem.
    try:
        tickets.CreateTicket(tickets_pb.CreateTicketRequest(
            ticket_type_id=tt.id,
            contacts=[tickets_pb.ContactIdentifier(email="alice@example.com")],
            ticket_attributes={"_default_title_": value(f"{prefix} bad"), "Severity": value("Catastrophic")}), metadata=md)
        check(False, "an invalid attribute is refused")
    except grpc.RpcError as err:
        ds = details(err)
        violations = [v for br in unpack(ds, error_details_pb2.BadRequest) for v in br.field_violations]
        reasons = [i.reason for i in unpack(ds, error_details_pb2.ErrorInfo)]
        for v in violations:
            print(f"  violation {v.field}: {v.description}")
        check(err.code() == grpc.StatusCode.INVALID_ARGUMENT, f"invalid attribute refused with {err.code().name} ({','.join(reasons)})")
        check(any(v.field.startswith("ticket_attributes") for v in violations), "the violation names the attribute")

    # 7. A RetryInfo hint: make the sandbox answer 429 for reads of a ticket
    # (its admin endpoint, mounted only in sandbox mode), call with a
    # deadline too short to wait for Intercom's reset, and read the hint.
    req = urllib.request.Request(f"{HTTP}/__sandbox/faults/getTicket", data=b'{"rate_limit_rate":1}', method="PUT")
    check(urllib.request.urlopen(req).status == 200, "switched on a 429 fault in the sandbox")
    try:
        tickets.GetTicket(tickets_pb.GetTicketRequest(ticket_id=created[0]), metadata=md, timeout=1.5)
        check(False, "a rate-limited call is refused")
    except grpc.RpcError as err:
        hints = unpack(details(err), error_details_pb2.RetryInfo)
        check(err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, f"rate-limited call refused with {err.code().name}")
        check(len(hints) == 1, f"RetryInfo says retry in {hints[0].retry_delay.ToTimedelta() if hints else '?'}")
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{HTTP}/__sandbox/faults", method="DELETE"))
    print("python example: all checks passed")


if __name__ == "__main__":
    main()
