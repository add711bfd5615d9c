/** Seed for randomized relay tests: SDS_SEED when set, else fresh; always printed. */
export function testSeed(name: string): number {
  const fromEnv = process.env.SDS_SEED;
  const seed = fromEnv !== undefined && fromEnv !== "" ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
  process.stderr.write(`[${name}] seed ${seed} (set SDS_SEED=${seed} to replay)\n`);
  return seed;
}
