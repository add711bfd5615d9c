import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { webcrypto } from "node:crypto";
import { sha256 } from "@noble/hashes/sha2.js";
import { SdsError } from "../../../src/core/errors.js";
import { ChannelCipher, frameWakuPayload, parseChannelKey, unframeWakuPayload } from "../../../src/core/channel/encryption.js";

const key = Uint8Array.from({ length: 32 }, (_, index) => index + 1);
const otherKey = Uint8Array.from({ length: 32 }, (_, index) => 255 - index);
const fixedRandom = (length: number): Uint8Array => new Uint8Array(length).fill(0xab);
const text = (value: string): Uint8Array => new TextEncoder().encode(value);

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof SdsError) return error.code;
    throw error;
  }
  return undefined;
}

describe("ChannelCipher (AES-256-GCM, js-waku symmetric layout)", () => {
  it("lays out ciphertext ‖ tag ‖ iv, readable by WebCrypto AES-GCM", async () => {
    const cipher = new ChannelCipher(key, { randomBytes: fixedRandom });
    const sealed = cipher.encrypt(text("hello"));
    // 1 flag + 1 length + 5 payload, padded to 256; + 16 tag + 12 iv
    expect(sealed.length).toBe(256 + 16 + 12);
    const iv = sealed.subarray(sealed.length - 12);
    expect(Buffer.from(iv).toString("hex")).toBe("ab".repeat(12));
    const cryptoKey = await webcrypto.subtle.importKey("raw", key, "AES-GCM", false, ["decrypt"]);
    const framed = new Uint8Array(await webcrypto.subtle.decrypt({ name: "AES-GCM", iv }, cryptoKey, sealed.subarray(0, sealed.length - 12)));
    expect(framed[0]).toBe(1); // flags: 1-byte length field, unsigned
    expect(framed[1]).toBe(5);
    expect(new TextDecoder().decode(framed.subarray(2, 7))).toBe("hello");
  });

  it("decrypts what WebCrypto sealed in the js-waku layout", async () => {
    const iv = new Uint8Array(12).fill(7);
    const framed = frameWakuPayload(text("from js-waku"), fixedRandom);
    const cryptoKey = await webcrypto.subtle.importKey("raw", key, "AES-GCM", false, ["encrypt"]);
    const body = new Uint8Array(await webcrypto.subtle.encrypt({ name: "AES-GCM", iv }, cryptoKey, framed));
    const sealed = new Uint8Array([...body, ...iv]);
    expect(new TextDecoder().decode(new ChannelCipher(key).decrypt(sealed))).toBe("from js-waku");
  });

  it("round-trips any payload in both framings (property)", () => {
    const framed = new ChannelCipher(key);
    const raw = new ChannelCipher(key, { framing: "raw" });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (payload) => {
        expect(Buffer.from(framed.decrypt(framed.encrypt(payload)))).toEqual(Buffer.from(payload));
        const sealed = raw.encrypt(payload);
        expect(sealed.length).toBe(payload.length + 28);
        expect(Buffer.from(raw.decrypt(sealed))).toEqual(Buffer.from(payload));
      }),
      { numRuns: 200 },
    );
  });

  it("uses the 2- and 3-byte length fields at 256 and 65 536 bytes", () => {
    expect(frameWakuPayload(new Uint8Array(255), fixedRandom)[0]).toBe(1);
    expect(frameWakuPayload(new Uint8Array(256), fixedRandom)[0]).toBe(2);
    expect(frameWakuPayload(new Uint8Array(65_536), fixedRandom)[0]).toBe(3);
    expect(frameWakuPayload(new Uint8Array(254), fixedRandom).length).toBe(512); // 256 exactly still gets a full pad
    expect(unframeWakuPayload(frameWakuPayload(new Uint8Array(70_000).fill(3), fixedRandom))).toEqual(new Uint8Array(70_000).fill(3));
  });

  it("turns a wrong key, tampering and short input into E_DECRYPT_FAILED", () => {
    const sealed = new ChannelCipher(key).encrypt(text("secret"));
    expect(codeOf(() => new ChannelCipher(otherKey).decrypt(sealed))).toBe("E_DECRYPT_FAILED");
    for (const at of [0, sealed.length - 20, sealed.length - 1]) {
      const tampered = sealed.slice();
      tampered[at] = tampered[at]! ^ 0x80;
      expect(codeOf(() => new ChannelCipher(key).decrypt(tampered))).toBe("E_DECRYPT_FAILED");
    }
    expect(codeOf(() => new ChannelCipher(key).decrypt(new Uint8Array(27)))).toBe("E_DECRYPT_FAILED");
    expect(codeOf(() => new ChannelCipher(key).decrypt(new Uint8Array(0)))).toBe("E_DECRYPT_FAILED");
  });

  it("never throws anything untyped on random input", () => {
    const cipher = new ChannelCipher(key);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        expect(codeOf(() => cipher.decrypt(bytes))).toBe("E_DECRYPT_FAILED");
      }),
      { numRuns: 500 },
    );
  });

  it("rejects a framing whose length runs past the plaintext", () => {
    expect(codeOf(() => unframeWakuPayload(new Uint8Array([1, 9, 0, 0])))).toBe("E_DECRYPT_FAILED");
    expect(codeOf(() => unframeWakuPayload(new Uint8Array([0, 0])))).toBe("E_DECRYPT_FAILED");
  });

  it("refuses keys that are not 32 bytes", () => {
    expect(codeOf(() => new ChannelCipher(new Uint8Array(16)))).toBe("E_CONFIG_INVALID");
  });
});

describe("parseChannelKey", () => {
  it("reads hex (with or without 0x), base64 and base64url", () => {
    const hexKey = Buffer.from(key).toString("hex");
    expect(parseChannelKey(hexKey)).toEqual({ key, format: "hex" });
    expect(parseChannelKey(`0x${hexKey.toUpperCase()}`).key).toEqual(key);
    expect(parseChannelKey(Buffer.from(otherKey).toString("base64"))).toEqual({ key: otherKey, format: "base64" });
    expect(parseChannelKey(Buffer.from(otherKey).toString("base64url")).key).toEqual(otherKey);
  });

  it("derives sha256(passphrase) for pass:TEXT", () => {
    expect(parseChannelKey("pass:correct horse")).toEqual({ key: sha256(text("correct horse")), format: "passphrase" });
  });

  it("rejects anything else with E_CONFIG_INVALID", () => {
    for (const bad of ["", "abcd", "zz".repeat(32), Buffer.from(new Uint8Array(31)).toString("base64"), "pass:"]) {
      expect(codeOf(() => parseChannelKey(bad))).toBe("E_CONFIG_INVALID");
    }
  });
});
