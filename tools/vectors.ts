/**
 * `deno task vectors FILE...`: replays every supported vector of cacophony-format
 * JSON files, prints one line per failing (and skipped) vector and a last line
 * `N passed, M failed`; exits non-zero if any failed.
 *
 * @module
 */
import { loadCryptoSuite } from "../lib/crypto/suite.ts";
import { replayVector, vectorsOf } from "./vector_replay.ts";
import { readFile } from "node:fs/promises";
import process from "node:process";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: deno task vectors FILE...");
  process.exit(2);
}
const suite = await loadCryptoSuite();
let passed = 0;
let failed = 0;
for (const file of files) {
  let vectors;
  try {
    vectors = vectorsOf(JSON.parse(await readFile(file, "utf8")));
  } catch (e) {
    console.log(`FAIL ${file}: ${e instanceof Error ? e.message : e}`);
    failed++;
    continue;
  }
  for (const [i, v] of vectors.entries()) {
    const r = await replayVector(v, suite);
    if (r.status === "passed") passed++;
    else if (r.status === "skipped") console.log(`skip ${file}#${i} ${r.protocol}: ${r.reason}`);
    else {
      failed++;
      console.log(`FAIL ${file}#${i} ${r.protocol}: ${r.reason}`);
    }
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
