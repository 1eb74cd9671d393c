// An example TypeScript client of intercom-gateway over gRPC.
//
// Stubs come from protoc-gen-es (npm run generate, from `make proto-bundle`)
// and calls go through @connectrpc/connect-node speaking the gRPC protocol
// over HTTP/2, so the same client works against any gRPC server. It walks
// through what a team usually does first and checks every answer, so that a
// broken example fails the build (the gateway's tests run it).
//
// Environment: GATEWAY_GRPC (default http://127.0.0.1:9090), GATEWAY_HTTP
// (default http://127.0.0.1:8080, used only to switch on a sandbox fault),
// GATEWAY_KEY (a gateway key; optional when the gateway runs open),
// GATEWAY_WORKSPACE (optional), GATEWAY_ADMIN_ID (default: the sandbox's Ada).
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import { TagService } from "./gen/intercom/gateway/v1/tag_service_pb.js";
import { FilterOperator, LogicalOperator, TicketQuerySchema, TicketSearchField, type TicketQuery } from "./gen/intercom/gateway/v1/ticket_search_pb.js";
import { TicketService } from "./gen/intercom/gateway/v1/ticket_service_pb.js";
import { AttributeDataType, TicketCategory } from "./gen/intercom/gateway/v1/ticket_type_pb.js";
import { TicketTypeService } from "./gen/intercom/gateway/v1/ticket_type_service_pb.js";

const grpcURL = process.env.GATEWAY_GRPC ?? "http://127.0.0.1:9090";
const httpURL = process.env.GATEWAY_HTTP ?? "http://127.0.0.1:8080";
const key = process.env.GATEWAY_KEY ?? "";
const workspace = process.env.GATEWAY_WORKSPACE ?? "";
const adminID = process.env.GATEWAY_ADMIN_ID ?? "991267943";

function check(ok: boolean, what: string): void {
  if (!ok) {
    throw new Error(`check failed: ${what}`);
  }
  console.log(`ok: ${what}`);
}

// Every call carries the gateway key and, optionally, the workspace. The
// Intercom token never leaves the gateway.
const auth: Interceptor = (next) => async (req) => {
  if (key) req.header.set("authorization", `Bearer ${key}`);
  if (workspace) req.header.set("x-intercom-workspace", workspace);
  return next(req);
};

const transport = createGrpcTransport({ baseUrl: grpcURL, interceptors: [auth] });
const tickets = createClient(TicketService, transport);
const types = createClient(TicketTypeService, transport);
const tags = createClient(TagService, transport);

// ticket_attributes are google.protobuf.Value. Build them from plain JSON:
// protobuf-es's Value uses camelCase case names (stringValue), and a
// hand-written { string_value: ... } would be an empty Value, which the
// gateway refuses. Numbers come back as doubles (42 reads as 42, not 42n).
const value = (v: JsonValue): Value => fromJson(ValueSchema, v);

const run = Date.now().toString(36);
const titlePrefix = `TS example ${run}`;

// 1. A ticket type with a list attribute.
const { ticketType } = await types.createTicketType({
  name: `TS example type ${run}`,
  description: "Made by examples/typescript",
  category: TicketCategory.CUSTOMER,
});
check(!!ticketType?.id, `created ticket type ${ticketType?.id}`);
const { attribute } = await types.createTicketTypeAttribute({
  ticketTypeId: ticketType!.id,
  name: "Severity",
  description: "How bad it is",
  dataType: AttributeDataType.LIST,
  listItems: ["Low", "High"],
});
check(attribute?.name === "Severity", "created list attribute Severity (Low, High)");

// 2. Tickets with attributes; the list attribute is given by its label.
const created: string[] = [];
for (const n of [1, 2, 3]) {
  const { ticket } = await tickets.createTicket({
    ticketTypeId: ticketType!.id,
    contacts: [{ identifier: { case: "email", value: "alice@example.com" } }],
    ticketAttributes: {
      _default_title_: value(`${titlePrefix} #${n}`),
      _default_description_: value("Filed by the TypeScript example"),
      Severity: value("High"),
    },
    requestId: `ts-example-${run}-${n}`,
  });
  check(!!ticket?.id, `created ticket ${ticket?.id}`);
  created.push(ticket!.id);
}

// 3. A compound query (type AND title prefix), paged two at a time.
const query: TicketQuery = create(TicketQuerySchema, {
    kind: {
      case: "group",
      value: {
        operator: LogicalOperator.AND,
        queries: [
          { kind: { case: "filter", value: { field: TicketSearchField.TICKET_TYPE_ID, operator: FilterOperator.EQUALS, value: { kind: { case: "stringValue", value: ticketType!.id } } } } },
          { kind: { case: "filter", value: { field: TicketSearchField.DEFAULT_TITLE, operator: FilterOperator.STARTS_WITH, value: { kind: { case: "stringValue", value: titlePrefix } } } } },
        ],
      },
    },
});
const paged: string[] = [];
let pageToken = "";
let pages = 0;
do {
  const page = await tickets.searchTickets({ query, pageSize: 2, pageToken });
  paged.push(...page.tickets.map((t) => t.id));
  pageToken = page.nextPageToken;
  pages++;
} while (pageToken && pages < 10);
check(paged.length === 3 && pages === 2, `search paged ${paged.length} tickets over ${pages} pages`);

// 4. The same query as a stream: the gateway follows Intercom's cursor.
const streamed: string[] = [];
for await (const msg of tickets.streamSearchTickets({ query, pageSize: 2 })) {
  streamed.push(msg.ticket!.id);
}
check(streamed.length === 3, `stream returned ${streamed.length} tickets`);

// 5. Tag the first ticket.
const { tag } = await tags.createTag({ name: `ts-example-${run}` });
const attached = await tickets.attachTag({ ticketId: created[0], tagId: tag!.id, adminId: adminID });
check(attached.tag?.id === tag!.id, `tagged ticket ${created[0]} with ${tag!.name}`);

// 6. A mapped error: an unknown list label is refused before Intercom sees
// it, with one field violation per problem.
try {
  await tickets.createTicket({
    ticketTypeId: ticketType!.id,
    contacts: [{ identifier: { case: "email", value: "alice@example.com" } }],
    ticketAttributes: { _default_title_: value(`${titlePrefix} bad`), Severity: value("Catastrophic") },
  });
  check(false, "an invalid attribute is refused");
} catch (e) {
  const err = ConnectError.from(e);
  const violations = err.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations);
  const reasons = err.findDetails(ErrorInfoSchema).map((d) => d.reason);
  for (const v of violations) console.log(`  violation ${v.field}: ${v.description}`);
  check(err.code === Code.InvalidArgument, `invalid attribute refused with ${Code[err.code]} (${reasons.join(",")})`);
  check(violations.some((v) => v.field.startsWith("ticket_attributes")), "the violation names the attribute");
}

// 7. A RetryInfo hint: make the sandbox answer 429 for reads of a ticket
// (its admin endpoint, mounted only in sandbox mode), call with a deadline
// too short to wait for Intercom's reset, and read the hint.
const fault = await fetch(`${httpURL}/__sandbox/faults/getTicket`, { method: "PUT", body: JSON.stringify({ rate_limit_rate: 1 }) });
check(fault.ok, "switched on a 429 fault in the sandbox");
try {
  await tickets.getTicket({ ticketId: created[0] }, { timeoutMs: 1500 });
  check(false, "a rate-limited call is refused");
} catch (e) {
  const err = ConnectError.from(e);
  const hints = err.findDetails(RetryInfoSchema);
  const delay = hints[0]?.retryDelay;
  check(err.code === Code.ResourceExhausted, `rate-limited call refused with ${Code[err.code]}`);
  check(delay !== undefined, `RetryInfo says retry in ${delay?.seconds ?? 0n}s ${delay?.nanos ?? 0}ns`);
} finally {
  await fetch(`${httpURL}/__sandbox/faults`, { method: "DELETE" });
}
console.log("typescript example: all checks passed");
