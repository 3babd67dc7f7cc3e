/** The published Noise vectors, replayed with every suite we ship. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { loadCryptoSuite, nobleCryptoSuite } from "../lib/crypto/suite.ts";
import { replayVector, vectorsOf } from "../tools/vector_replay.ts";
import cacophony from "./vectors/cacophony-subset.json" with { type: "json" };
import snow from "./vectors/snow-subset.json" with { type: "json" };
import noiseC from "./vectors/noise-c-subset.json" with { type: "json" };

const files = { cacophony, snow, "noise-c": noiseC };

for (
  const [suiteName, getSuite] of [
    ["fastest suite of this runtime", loadCryptoSuite],
    ["all-noble suite", () => Promise.resolve(nobleCryptoSuite())],
  ] as const
) {
  describe(`Noise vectors with the ${suiteName}`, () => {
    for (const [file, json] of Object.entries(files)) {
      vectorsOf(json).forEach((v, i) => {
        const name = (v as { protocol_name?: string; name?: string }).protocol_name ??
          (v as { name?: string }).name;
        test(`${file} #${i} ${name}: every message byte for byte, and the handshake hash`, async () => {
          const r = await replayVector(v, await getSuite());
          if (r.status === "skipped") {
            // Only the fallback entry may be skipped (noise-c's XXfallback, not a basic vector).
            assert.match(r.reason, /fallback/);
            return;
          }
          assert.deepEqual(r, { status: "passed", protocol: name });
        });
      });
    }
  });
}

describe("vector replay catches a wrong implementation", () => {
  test("a vector with one ciphertext bit flipped fails", async () => {
    const v = structuredClone(vectorsOf(cacophony)[0]);
    const last = v.messages[v.messages.length - 1];
    last.ciphertext = (parseInt(last.ciphertext[0], 16) ^ 1).toString(16) +
      last.ciphertext.slice(1);
    const r = await replayVector(v, await loadCryptoSuite());
    assert.equal(r.status, "failed");
  });
  test("a vector with a wrong handshake hash fails", async () => {
    const v = structuredClone(vectorsOf(cacophony)[1]);
    v.handshake_hash = "00".repeat(32);
    const r = await replayVector(v, await loadCryptoSuite());
    assert.deepEqual(r, {
      status: "failed",
      protocol: v.protocol_name,
      reason: "handshake hash differs",
    });
  });
});
