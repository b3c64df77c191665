// stdin/stdout plumbing shared by the interop scripts: one JSON request in, one JSON result out.
import { text } from "node:stream/consumers";

export async function readRequest() {
  return JSON.parse(await text(process.stdin));
}

export function writeResult(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

export const b64 = (bytes) => Buffer.from(bytes).toString("base64");
export const unb64 = (text) => new Uint8Array(Buffer.from(text, "base64"));
