import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { NoiseError, NoiseErrorCode } from "../lib/errors.ts";

describe("NoiseError", () => {
  test("message is the Rust Display text of the variant", () => {
    assert.equal(
      new NoiseError(NoiseErrorCode.Snow, "decrypt error").message,
      "snow error: decrypt error",
    );
    assert.equal(
      new NoiseError(NoiseErrorCode.InvalidPeerKey).message,
      "invalid peer static or shared secret",
    );
    assert.equal(new NoiseError(NoiseErrorCode.Ring, "x").message, "ring error: x");
  });
  test("codes are the Rust NoiseErrorCode numbers", () => {
    assert.deepEqual(Object.values(NoiseErrorCode), [
      1000,
      2000,
      3000,
      4000,
      5000,
      5001,
      6000,
      6001,
      6002,
      6003,
      7000,
      8000,
      8001,
      8002,
      9000,
      10000,
      99999,
    ]);
  });
  test("retry helpers follow the crate", () => {
    const rl = new NoiseError(NoiseErrorCode.RateLimited, "slow down", { retryAfterMs: 250 });
    assert.equal(rl.isRetryable, true);
    assert.equal(rl.retryAfterMs, 250);
    assert.equal(new NoiseError(NoiseErrorCode.Timeout, "t").retryAfterMs, 1000);
    assert.equal(new NoiseError(NoiseErrorCode.Storage, "s").retryAfterMs, 500);
    assert.equal(new NoiseError(NoiseErrorCode.Snow, "s").isRetryable, false);
    assert.equal(new NoiseError(NoiseErrorCode.Snow, "s").retryAfterMs, undefined);
    assert.equal(new NoiseError(NoiseErrorCode.IdentityVerify).isUserFacing, true);
  });
});
