/**
 * The client's WebSocket masking policy. RFC 6455 makes every client frame masked; the key only
 * protects a caching proxy between a script and the server, and a loopback connection has no
 * proxy. So the `sds` client masks with a zero key on loopback (ws then skips the XOR on both
 * ends) and with random keys everywhere else.
 */

/**
 * True when `url`'s host is a loopback address (`127.0.0.0/8`, `[::1]`, `localhost`): there the
 * client's masking key is all zeros (RFC 6455 §10.3 is about intermediaries, which loopback has
 * none of). With 35 kB envelopes the XOR pass was ~11 % of `sds send`'s CPU. The frames stay valid
 * masked frames. Unparsable URLs are not loopback.
 */
export function isLoopbackUrl(url: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(url).hostname;
  } catch {
    return false;
  }
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** ws `generateMask` that leaves the key all zeros (see {@link isLoopbackUrl}). */
export function zeroMask(mask: Buffer): void {
  mask.fill(0);
}
