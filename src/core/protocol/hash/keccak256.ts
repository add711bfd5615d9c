/**
 * Keccak-256 (the original Keccak padding, as Ethereum and the Reliable Channel use it for
 * message ids and segment hashes; NOT SHA3-256, whose padding byte differs), written for the
 * short inputs of the hot path: a 40-byte line's message id and segment hash cost ~12 µs each
 * with @noble/hashes on the benchmark machine. Keccak-f[1600] runs on the 32-bit halves of the
 * 25 lanes held in local variables (the round body is unrolled), over one module-level state.
 * Checked byte for byte against @noble/hashes in test/core/protocol/hash/keccak256.test.ts. Pure.
 */

/** Bytes absorbed per permutation: 1600 − 2·256 bits of capacity = 136 bytes. */
const RATE_BYTES = 136;
const ROUNDS = 24;

/** Round constants (low and high 32 bits), from the degree-8 LFSR of the Keccak reference. */
const ROUND_LOW = new Int32Array(ROUNDS);
const ROUND_HIGH = new Int32Array(ROUNDS);
(function roundConstants(): void {
  let lfsr = 1;
  for (let round = 0; round < ROUNDS; round++) {
    for (let bit = 0; bit < 7; bit++) {
      const position = (1 << bit) - 1;
      if (lfsr & 1) {
        if (position < 32) ROUND_LOW[round] |= 1 << position;
        else ROUND_HIGH[round] |= 1 << (position - 32);
      }
      lfsr = lfsr & 0x80 ? ((lfsr << 1) ^ 0x71) & 0xff : (lfsr << 1) & 0xff;
    }
  }
})();

/** The sponge state: lane i (x + 5y) as low half at 2i, high half at 2i + 1. */
const state = new Int32Array(50);

/**
 * Keccak-f[1600] on {@link state}: θ (column parities), ρ and π (rotate and move each lane),
 * χ (row mixing), ι (round constant), 24 times. Generated from the step definitions.
 */
function permute(): void {
  let l0 = state[0]!, l1 = state[2]!, l2 = state[4]!, l3 = state[6]!, l4 = state[8]!, l5 = state[10]!, l6 = state[12]!, l7 = state[14]!, l8 = state[16]!,
    l9 = state[18]!, l10 = state[20]!, l11 = state[22]!, l12 = state[24]!, l13 = state[26]!, l14 = state[28]!, l15 = state[30]!, l16 = state[32]!,
    l17 = state[34]!, l18 = state[36]!, l19 = state[38]!, l20 = state[40]!, l21 = state[42]!, l22 = state[44]!, l23 = state[46]!, l24 = state[48]!;
  let h0 = state[1]!, h1 = state[3]!, h2 = state[5]!, h3 = state[7]!, h4 = state[9]!, h5 = state[11]!, h6 = state[13]!, h7 = state[15]!, h8 = state[17]!,
    h9 = state[19]!, h10 = state[21]!, h11 = state[23]!, h12 = state[25]!, h13 = state[27]!, h14 = state[29]!, h15 = state[31]!, h16 = state[33]!,
    h17 = state[35]!, h18 = state[37]!, h19 = state[39]!, h20 = state[41]!, h21 = state[43]!, h22 = state[45]!, h23 = state[47]!, h24 = state[49]!;
  for (let round = 0; round < ROUNDS; round++) {
    const cl0 = l0 ^ l5 ^ l10 ^ l15 ^ l20, ch0 = h0 ^ h5 ^ h10 ^ h15 ^ h20;
    const cl1 = l1 ^ l6 ^ l11 ^ l16 ^ l21, ch1 = h1 ^ h6 ^ h11 ^ h16 ^ h21;
    const cl2 = l2 ^ l7 ^ l12 ^ l17 ^ l22, ch2 = h2 ^ h7 ^ h12 ^ h17 ^ h22;
    const cl3 = l3 ^ l8 ^ l13 ^ l18 ^ l23, ch3 = h3 ^ h8 ^ h13 ^ h18 ^ h23;
    const cl4 = l4 ^ l9 ^ l14 ^ l19 ^ l24, ch4 = h4 ^ h9 ^ h14 ^ h19 ^ h24;
    const dl0 = cl4 ^ ((cl1 << 1) | (ch1 >>> 31)), dh0 = ch4 ^ ((ch1 << 1) | (cl1 >>> 31));
    l0 ^= dl0; h0 ^= dh0; l5 ^= dl0; h5 ^= dh0; l10 ^= dl0; h10 ^= dh0; l15 ^= dl0; h15 ^= dh0; l20 ^= dl0; h20 ^= dh0;
    const dl1 = cl0 ^ ((cl2 << 1) | (ch2 >>> 31)), dh1 = ch0 ^ ((ch2 << 1) | (cl2 >>> 31));
    l1 ^= dl1; h1 ^= dh1; l6 ^= dl1; h6 ^= dh1; l11 ^= dl1; h11 ^= dh1; l16 ^= dl1; h16 ^= dh1; l21 ^= dl1; h21 ^= dh1;
    const dl2 = cl1 ^ ((cl3 << 1) | (ch3 >>> 31)), dh2 = ch1 ^ ((ch3 << 1) | (cl3 >>> 31));
    l2 ^= dl2; h2 ^= dh2; l7 ^= dl2; h7 ^= dh2; l12 ^= dl2; h12 ^= dh2; l17 ^= dl2; h17 ^= dh2; l22 ^= dl2; h22 ^= dh2;
    const dl3 = cl2 ^ ((cl4 << 1) | (ch4 >>> 31)), dh3 = ch2 ^ ((ch4 << 1) | (cl4 >>> 31));
    l3 ^= dl3; h3 ^= dh3; l8 ^= dl3; h8 ^= dh3; l13 ^= dl3; h13 ^= dh3; l18 ^= dl3; h18 ^= dh3; l23 ^= dl3; h23 ^= dh3;
    const dl4 = cl3 ^ ((cl0 << 1) | (ch0 >>> 31)), dh4 = ch3 ^ ((ch0 << 1) | (cl0 >>> 31));
    l4 ^= dl4; h4 ^= dh4; l9 ^= dl4; h9 ^= dh4; l14 ^= dl4; h14 ^= dh4; l19 ^= dl4; h19 ^= dh4; l24 ^= dl4; h24 ^= dh4;
    const bl0 = l0, bh0 = h0;
    const bl16 = (h5 << 4) | (l5 >>> 28), bh16 = (l5 << 4) | (h5 >>> 28);
    const bl7 = (l10 << 3) | (h10 >>> 29), bh7 = (h10 << 3) | (l10 >>> 29);
    const bl23 = (h15 << 9) | (l15 >>> 23), bh23 = (l15 << 9) | (h15 >>> 23);
    const bl14 = (l20 << 18) | (h20 >>> 14), bh14 = (h20 << 18) | (l20 >>> 14);
    const bl10 = (l1 << 1) | (h1 >>> 31), bh10 = (h1 << 1) | (l1 >>> 31);
    const bl1 = (h6 << 12) | (l6 >>> 20), bh1 = (l6 << 12) | (h6 >>> 20);
    const bl17 = (l11 << 10) | (h11 >>> 22), bh17 = (h11 << 10) | (l11 >>> 22);
    const bl8 = (h16 << 13) | (l16 >>> 19), bh8 = (l16 << 13) | (h16 >>> 19);
    const bl24 = (l21 << 2) | (h21 >>> 30), bh24 = (h21 << 2) | (l21 >>> 30);
    const bl20 = (h2 << 30) | (l2 >>> 2), bh20 = (l2 << 30) | (h2 >>> 2);
    const bl11 = (l7 << 6) | (h7 >>> 26), bh11 = (h7 << 6) | (l7 >>> 26);
    const bl2 = (h12 << 11) | (l12 >>> 21), bh2 = (l12 << 11) | (h12 >>> 21);
    const bl18 = (l17 << 15) | (h17 >>> 17), bh18 = (h17 << 15) | (l17 >>> 17);
    const bl9 = (h22 << 29) | (l22 >>> 3), bh9 = (l22 << 29) | (h22 >>> 3);
    const bl5 = (l3 << 28) | (h3 >>> 4), bh5 = (h3 << 28) | (l3 >>> 4);
    const bl21 = (h8 << 23) | (l8 >>> 9), bh21 = (l8 << 23) | (h8 >>> 9);
    const bl12 = (l13 << 25) | (h13 >>> 7), bh12 = (h13 << 25) | (l13 >>> 7);
    const bl3 = (l18 << 21) | (h18 >>> 11), bh3 = (h18 << 21) | (l18 >>> 11);
    const bl19 = (h23 << 24) | (l23 >>> 8), bh19 = (l23 << 24) | (h23 >>> 8);
    const bl15 = (l4 << 27) | (h4 >>> 5), bh15 = (h4 << 27) | (l4 >>> 5);
    const bl6 = (l9 << 20) | (h9 >>> 12), bh6 = (h9 << 20) | (l9 >>> 12);
    const bl22 = (h14 << 7) | (l14 >>> 25), bh22 = (l14 << 7) | (h14 >>> 25);
    const bl13 = (l19 << 8) | (h19 >>> 24), bh13 = (h19 << 8) | (l19 >>> 24);
    const bl4 = (l24 << 14) | (h24 >>> 18), bh4 = (h24 << 14) | (l24 >>> 18);
    l0 = bl0 ^ (~bl1 & bl2); h0 = bh0 ^ (~bh1 & bh2); l1 = bl1 ^ (~bl2 & bl3); h1 = bh1 ^ (~bh2 & bh3);
    l2 = bl2 ^ (~bl3 & bl4); h2 = bh2 ^ (~bh3 & bh4); l3 = bl3 ^ (~bl4 & bl0); h3 = bh3 ^ (~bh4 & bh0);
    l4 = bl4 ^ (~bl0 & bl1); h4 = bh4 ^ (~bh0 & bh1); l5 = bl5 ^ (~bl6 & bl7); h5 = bh5 ^ (~bh6 & bh7);
    l6 = bl6 ^ (~bl7 & bl8); h6 = bh6 ^ (~bh7 & bh8); l7 = bl7 ^ (~bl8 & bl9); h7 = bh7 ^ (~bh8 & bh9);
    l8 = bl8 ^ (~bl9 & bl5); h8 = bh8 ^ (~bh9 & bh5); l9 = bl9 ^ (~bl5 & bl6); h9 = bh9 ^ (~bh5 & bh6);
    l10 = bl10 ^ (~bl11 & bl12); h10 = bh10 ^ (~bh11 & bh12); l11 = bl11 ^ (~bl12 & bl13); h11 = bh11 ^ (~bh12 & bh13);
    l12 = bl12 ^ (~bl13 & bl14); h12 = bh12 ^ (~bh13 & bh14); l13 = bl13 ^ (~bl14 & bl10); h13 = bh13 ^ (~bh14 & bh10);
    l14 = bl14 ^ (~bl10 & bl11); h14 = bh14 ^ (~bh10 & bh11); l15 = bl15 ^ (~bl16 & bl17); h15 = bh15 ^ (~bh16 & bh17);
    l16 = bl16 ^ (~bl17 & bl18); h16 = bh16 ^ (~bh17 & bh18); l17 = bl17 ^ (~bl18 & bl19); h17 = bh17 ^ (~bh18 & bh19);
    l18 = bl18 ^ (~bl19 & bl15); h18 = bh18 ^ (~bh19 & bh15); l19 = bl19 ^ (~bl15 & bl16); h19 = bh19 ^ (~bh15 & bh16);
    l20 = bl20 ^ (~bl21 & bl22); h20 = bh20 ^ (~bh21 & bh22); l21 = bl21 ^ (~bl22 & bl23); h21 = bh21 ^ (~bh22 & bh23);
    l22 = bl22 ^ (~bl23 & bl24); h22 = bh22 ^ (~bh23 & bh24); l23 = bl23 ^ (~bl24 & bl20); h23 = bh23 ^ (~bh24 & bh20);
    l24 = bl24 ^ (~bl20 & bl21); h24 = bh24 ^ (~bh20 & bh21);
    l0 ^= ROUND_LOW[round]!; h0 ^= ROUND_HIGH[round]!;
  }
  state[0] = l0; state[1] = h0; state[2] = l1; state[3] = h1; state[4] = l2; state[5] = h2; state[6] = l3; state[7] = h3; state[8] = l4; state[9] = h4;
    state[10] = l5; state[11] = h5; state[12] = l6; state[13] = h6; state[14] = l7; state[15] = h7; state[16] = l8; state[17] = h8; state[18] = l9;
    state[19] = h9; state[20] = l10; state[21] = h10; state[22] = l11; state[23] = h11; state[24] = l12; state[25] = h12; state[26] = l13; state[27] = h13;
    state[28] = l14; state[29] = h14; state[30] = l15; state[31] = h15; state[32] = l16; state[33] = h16; state[34] = l17; state[35] = h17;
    state[36] = l18; state[37] = h18; state[38] = l19; state[39] = h19; state[40] = l20; state[41] = h20; state[42] = l21; state[43] = h21;
    state[44] = l22; state[45] = h22; state[46] = l23; state[47] = h23; state[48] = l24; state[49] = h24;
}

/** XORs `length` bytes of `input` from `offset` into the state (little-endian lanes). */
function absorb(input: Uint8Array, offset: number, length: number): void {
  for (let index = 0; index < length; index++) state[index >> 2] ^= input[offset + index]! << ((index & 3) * 8);
}

/** Keccak-256 of `input`: 32 bytes. */
export function keccak256(input: Uint8Array): Uint8Array {
  state.fill(0);
  let offset = 0;
  for (; input.length - offset >= RATE_BYTES; offset += RATE_BYTES) {
    absorb(input, offset, RATE_BYTES);
    permute();
  }
  const rest = input.length - offset;
  absorb(input, offset, rest);
  // Keccak padding (pad10*1 with the 0x01 domain byte): 0x01 after the message, 0x80 in the block's last byte.
  state[rest >> 2] ^= 0x01 << ((rest & 3) * 8);
  state[(RATE_BYTES - 1) >> 2] ^= 0x80 << (((RATE_BYTES - 1) & 3) * 8);
  permute();
  const digest = new Uint8Array(32);
  for (let index = 0; index < 32; index++) digest[index] = (state[index >> 2]! >>> ((index & 3) * 8)) & 0xff;
  return digest;
}
