// Loads every .proto file of the proto bundle with @grpc/proto-loader, with
// only the bundle on the include path, and checks that the three services
// and the error details are there. Usage: node load-bundle.mjs DIR
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import * as loader from "@grpc/proto-loader";

const dir = process.argv[2];
const files = [];
const walk = (d) => {
  for (const name of readdirSync(d)) {
    const p = join(d, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith(".proto")) files.push(relative(dir, p));
  }
};
walk(dir);
const defs = loader.loadSync(files, { includeDirs: [dir], keepCase: true });
const want = [
  "intercom.gateway.v1.TicketService",
  "intercom.gateway.v1.TicketTypeService",
  "intercom.gateway.v1.TagService",
  "google.rpc.BadRequest",
  "google.rpc.ErrorInfo",
  "google.rpc.RetryInfo",
];
const missing = want.filter((n) => !(n in defs));
if (missing.length > 0) {
  console.error(`missing from the bundle: ${missing.join(", ")}`);
  process.exit(1);
}
console.log(`proto-loader read ${files.length} files; found ${want.join(", ")}`);
