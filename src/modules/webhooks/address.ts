/**
 * Where a webhook may be sent. An endpoint is a URL the workspace chose, so without a check the
 * server would make requests on anyone's behalf into its own network (SSRF): the metadata
 * service, a database on a private address, an admin port on loopback.
 *
 * One classifier decides for every address: only public unicast addresses pass (ipaddr.js names
 * the range; anything it does not call `unicast` is refused: loopback, private, link-local
 * (which holds the 169.254.169.254 metadata address), CGNAT, unique-local, multicast,
 * broadcast, unspecified, reserved, documentation, benchmarking, 6to4/Teredo/NAT64 forms that
 * embed an IPv4 address). IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged as the IPv4 address it
 * carries. Loopback passes only with WEBHOOK_ALLOW_LOOPBACK (tests, local development).
 *
 * The check runs at registration (on the literal address, or on every address the name resolves
 * to) and again at every delivery, on the DNS answers of that moment: the request then connects
 * to the address that was checked (deliver.ts), never to the name, so a name that resolves to a public
 * address at registration and to 127.0.0.1 later (DNS rebinding) is still refused.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

export interface AddressPolicy {
  allowLoopback: boolean;
}

/** Whether a webhook may be sent to this IP address (a literal; names are resolved first). */
export function classifyAddress(address: string, policy: AddressPolicy): AddressVerdict {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // The bracketed form a URL's hostname has for IPv6.
    parsed = ipaddr.parse(address.replace(/^\[(.*)\]$/, '$1'));
  } catch {
    return { allowed: false, reason: `${address} is not an IP address` };
  }
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) parsed = v6.toIPv4Address();
  }
  const range = parsed.range();
  if (range === 'unicast') return { allowed: true };
  if (range === 'loopback' && policy.allowLoopback) return { allowed: true };
  return { allowed: false, reason: `${address} is a ${range} address` };
}

/** Thrown when an address (or every answer for a name) is refused; its message says why. */
export class AddressRefusedError extends Error {
  override name = 'AddressRefusedError';
}

function resolveAll(hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses)));
  });
}

/**
 * Resolves a host name (or takes an IP literal) and checks every answer. Any refused answer
 * refuses the name: a name that mixes a public and a private answer is not one we trust.
 */
export async function checkHost(hostname: string, policy: AddressPolicy): Promise<LookupAddress[]> {
  const bare = hostname.replace(/^\[(.*)\]$/, '$1');
  const family = isIP(bare);
  const answers = family ? [{ address: bare, family }] : await resolveAll(bare);
  if (answers.length === 0) throw new AddressRefusedError(`${hostname} has no address`);
  for (const answer of answers) {
    const verdict = classifyAddress(answer.address, policy);
    if (!verdict.allowed) {
      throw new AddressRefusedError(family ? verdict.reason : `${hostname} resolves to ${answer.address}, and ${verdict.reason}`);
    }
  }
  return answers;
}

/**
 * Checks an endpoint URL as given at registration: http(s) only, no credentials in it, and a
 * host whose every address passes the classifier. Returns the normalised URL, or a reason.
 */
export async function checkEndpointUrl(
  raw: string,
  policy: AddressPolicy & { httpsOnly: boolean },
): Promise<{ ok: true; url: string } | { ok: false; reason: string }> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'is not a URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, reason: 'must be an http or https URL' };
  if (policy.httpsOnly && url.protocol !== 'https:') return { ok: false, reason: 'must be an https URL' };
  if (url.username || url.password) return { ok: false, reason: 'must not carry a user name or password' };
  if (!url.hostname) return { ok: false, reason: 'has no host' };
  url.hash = '';
  try {
    await checkHost(url.hostname, policy);
  } catch (err) {
    if (err instanceof AddressRefusedError) return { ok: false, reason: `is not allowed: ${err.message}` };
    return { ok: false, reason: `cannot be resolved (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  return { ok: true, url: url.toString() };
}
