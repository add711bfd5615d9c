/**
 * The false-positive table bloom filters size themselves from when a caller fixes k:
 * Pei Cao's "summary cache" table (pages.cs.wisc.edu/~cao/papers/summary-cache/node8.html),
 * as nim-sds has it (`sds/private/probabilities.nim`) in float64. Row k gives, for each m/n
 * (bits per element, 0…32), the expected false-positive rate with k hash functions.
 * js-waku (`@waku/sds` `probabilities.ts`) stores the same figures as Float32Array and has
 * four entries of row k = 3 duplicated (0.0108, 0.00875, 0.00718, 0.00596 twice), so for
 * k = 3 and a target below 0.00596 it picks an m/n 4 larger than nim; see docs/bloom.md.
 */
import { SdsError } from "../../errors.js";

/** Largest k the table covers (explicit k above this needs `forceNBitsPerElem`). */
export const TABLE_K_MAX = 12;

/** A row: `leadingOnes` entries of 1.0 (unusable m/n), then the rates from that m/n on. */
function row(leadingOnes: number, rates: readonly number[]): readonly number[] {
  return Object.freeze([...Array.from({ length: leadingOnes }, () => 1), ...rates]);
}

/** `FALSE_POSITIVE_RATES[k][mOverN]`: false-positive rate with k hashes and m/n bits per element. */
export const FALSE_POSITIVE_RATES: readonly (readonly number[])[] = Object.freeze([
  // k = 0
  row(1, []),
  // k = 1
  row(2, [0.393, 0.283, 0.221, 0.181, 0.154, 0.133, 0.118, 0.105, 0.0952, 0.0869, 0.08, 0.074, 0.0689, 0.0645, 0.0606, 0.0571, 0.054, 0.0513, 0.0488, 0.0465, 0.0444, 0.0425, 0.0408, 0.0392, 0.0377, 0.0364, 0.0351, 0.0339, 0.0328, 0.0317, 0.0308]),
  // k = 2
  row(2, [0.4, 0.237, 0.155, 0.109, 0.0804, 0.0618, 0.0489, 0.0397, 0.0329, 0.0276, 0.0236, 0.0203, 0.0177, 0.0156, 0.0138, 0.0123, 0.0111, 0.00998, 0.00906, 0.00825, 0.00755, 0.00694, 0.00639, 0.00591, 0.00548, 0.0051, 0.00475, 0.00444, 0.00416, 0.0039, 0.00367]),
  // k = 3
  row(3, [0.253, 0.147, 0.092, 0.0609, 0.0423, 0.0306, 0.0228, 0.0174, 0.0136, 0.0108, 0.00875, 0.00718, 0.00596, 0.005, 0.00423, 0.00362, 0.00312, 0.0027, 0.00236, 0.00207, 0.00183, 0.00162, 0.00145, 0.00129, 0.00116, 0.00105, 0.000949, 0.000862, 0.000785, 0.000717]),
  // k = 4
  row(4, [0.16, 0.092, 0.0561, 0.0359, 0.024, 0.0166, 0.0118, 0.00864, 0.00646, 0.00492, 0.00381, 0.003, 0.00239, 0.00193, 0.00158, 0.0013, 0.00108, 0.000905, 0.000764, 0.000649, 0.000555, 0.000478, 0.000413, 0.000359, 0.000314, 0.000276, 0.000243, 0.000215, 0.000191]),
  // k = 5
  row(5, [0.101, 0.0578, 0.0347, 0.0217, 0.0141, 0.00943, 0.0065, 0.00459, 0.00332, 0.00244, 0.00183, 0.00139, 0.00107, 0.000839, 0.000663, 0.00053, 0.000427, 0.000347, 0.000285, 0.000235, 0.000196, 0.000164, 0.000138, 0.000117, 0.0000996, 0.0000853, 0.0000733, 0.0000633]),
  // k = 6
  row(6, [0.0638, 0.0364, 0.0216, 0.0133, 0.00844, 0.00552, 0.00371, 0.00255, 0.00179, 0.00128, 0.000935, 0.000692, 0.000519, 0.000394, 0.000303, 0.000236, 0.000185, 0.000147, 0.000117, 0.0000944, 0.0000766, 0.0000626, 0.0000515, 0.0000426, 0.0000355, 0.0000297, 0.000025]),
  // k = 7
  row(8, [0.0229, 0.0135, 0.00819, 0.00513, 0.00329, 0.00217, 0.00146, 0.001, 0.000702, 0.000499, 0.00036, 0.000264, 0.000196, 0.000147, 0.000112, 0.0000856, 0.0000663, 0.0000518, 0.0000408, 0.0000324, 0.0000259, 0.0000209, 0.0000169, 0.0000138, 0.0000113]),
  // k = 8
  row(9, [0.0145, 0.00846, 0.00509, 0.00314, 0.00199, 0.00129, 0.000852, 0.000574, 0.000394, 0.000275, 0.000194, 0.00014, 0.000101, 0.0000746, 0.0000555, 0.0000417, 0.0000316, 0.0000242, 0.0000187, 0.0000146, 0.0000114, 0.00000901, 0.00000716, 0.00000573]),
  // k = 9
  row(11, [0.00531, 0.00317, 0.00194, 0.00121, 0.000775, 0.000505, 0.000335, 0.000226, 0.000155, 0.000108, 0.0000759, 0.0000542, 0.0000392, 0.0000286, 0.0000211, 0.0000157, 0.0000118, 0.00000896, 0.00000685, 0.00000528, 0.0000041, 0.0000032]),
  // k = 10
  row(12, [0.00334, 0.00198, 0.0012, 0.000744, 0.00047, 0.000302, 0.000198, 0.000132, 0.0000889, 0.0000609, 0.0000423, 0.0000297, 0.0000211, 0.0000152, 0.000011, 0.00000807, 0.00000597, 0.00000445, 0.00000335, 0.00000254, 0.00000194]),
  // k = 11
  row(13, [0.0021, 0.00124, 0.000747, 0.000459, 0.000287, 0.000183, 0.000118, 0.0000777, 0.0000518, 0.000035, 0.000024, 0.0000166, 0.0000116, 0.00000823, 0.00000589, 0.00000425, 0.0000031, 0.00000228, 0.00000169, 0.00000126]),
  // k = 12
  row(15, [0.000778, 0.000466, 0.000284, 0.000176, 0.000111, 0.0000712, 0.0000463, 0.0000305, 0.0000204, 0.0000138, 0.00000942, 0.00000652, 0.00000456, 0.00000322, 0.00000229, 0.00000165, 0.0000012, 8.74e-7]),
]);

/**
 * nim-sds `getMOverNBitsForK`: the smallest m/n ≥ 2 whose table rate is strictly below
 * `targetError` for `k` hashes. Throws `E_BLOOM_PARAMS` when k is outside 0…12 or no m/n
 * up to 32 reaches the target ("not achievable using less than 4 bytes / element").
 */
export function mOverNBitsForK(k: number, targetError: number, table: readonly (readonly number[])[] = FALSE_POSITIVE_RATES): number {
  if (!Number.isInteger(k) || k < 0 || k > TABLE_K_MAX) {
    throw new SdsError("E_BLOOM_PARAMS", `k must be an integer in 0..${TABLE_K_MAX} unless bits per element are forced (got ${k})`, { kHashes: k });
  }
  const rates = table[k]!;
  for (let mOverN = 2; mOverN < rates.length; mOverN++) {
    if (rates[mOverN]! < targetError) return mOverN;
  }
  throw new SdsError("E_BLOOM_PARAMS", `k = ${k} cannot reach error rate ${targetError} with at most 32 bits per element`, {
    kHashes: k,
    errorRate: targetError,
  });
}
