/**
 * The webhook address check itself, as a unit: which IP addresses the one classifier lets a
 * delivery reach, and how URLs are judged at registration. Nothing here opens a connection:
 * names are resolved by the system resolver (`localhost` from the hosts file), addresses only
 * classified. Also the signature format and the retry schedule.
 */
import { describe, expect, it } from 'vitest';
import { checkEndpointUrl, checkHost, classifyAddress } from '../src/modules/webhooks/address.js';
import { hmacHex, signatureHeaders, verifySignature } from '../src/modules/webhooks/signature.js';
import { retryDelay } from '../src/modules/webhooks/worker.js';
import { verifyAsReadme, verifyGitHubStyle } from './helpers/webhooks.js';

const strict = { allowLoopback: false };
const loopbackAllowed = { allowLoopback: true };

describe('webhook address classifier', () => {
  it.each([
    // Loopback, every 127.0.0.0/8 address and ::1, and IPv4 loopback mapped into IPv6.
    ['127.0.0.1', 'loopback'],
    ['127.0.0.2', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['[::1]', 'loopback'],
    // Private (RFC 1918) and unique-local IPv6.
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['::ffff:10.1.2.3', 'private'],
    ['fd00::1', 'uniqueLocal'],
    // Link-local, which holds the cloud metadata services (AWS, GCP, Azure: 169.254.169.254).
    ['169.254.169.254', 'linkLocal'],
    ['169.254.0.1', 'linkLocal'],
    ['fe80::1', 'linkLocal'],
    ['::ffff:169.254.169.254', 'linkLocal'],
    // AWS's IPv6 metadata address is unique-local; Alibaba's metadata is in CGNAT space.
    ['fd00:ec2::254', 'uniqueLocal'],
    ['100.100.100.200', 'carrierGradeNat'],
    ['100.64.0.1', 'carrierGradeNat'],
    // Multicast, broadcast, unspecified, reserved and special-purpose ranges.
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.192', 'reserved'],
    ['198.18.0.1', 'reserved'],
    // IPv6 forms that embed an IPv4 address (NAT64, 6to4, Teredo) could reach a private one.
    ['64:ff9b::7f00:1', 'rfc6052'],
    ['2002:7f00:1::1', '6to4'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
  ])('refuses %s (%s)', (address, range) => {
    const verdict = classifyAddress(address, strict);
    expect(verdict).toEqual({ allowed: false, reason: `${address} is a ${range} address` });
  });

  it('allows loopback, and only loopback, when the setting says so', () => {
    for (const address of ['127.0.0.1', '127.0.0.9', '::1', '::ffff:127.0.0.1']) {
      expect(classifyAddress(address, loopbackAllowed)).toEqual({ allowed: true });
    }
    for (const address of ['10.0.0.1', '169.254.169.254', '192.168.0.1', 'fe80::1', '100.64.0.1', '0.0.0.0', 'fd00:ec2::254']) {
      expect(classifyAddress(address, loopbackAllowed).allowed).toBe(false);
    }
  });

  it('allows public unicast addresses', () => {
    for (const address of ['93.184.216.34', '8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:93.184.216.34']) {
      expect(classifyAddress(address, strict)).toEqual({ allowed: true });
    }
  });

  it('refuses what is not an address', () => {
    expect(classifyAddress('not-an-ip', strict)).toEqual({ allowed: false, reason: 'not-an-ip is not an IP address' });
  });

  it('checks every DNS answer of a name: localhost resolves to loopback and is refused', async () => {
    await expect(checkHost('localhost', strict)).rejects.toThrow(/^localhost resolves to (127\.0\.0\.1|::1), and .* is a loopback address$/);
    const answers = await checkHost('localhost', loopbackAllowed);
    expect(answers.length).toBeGreaterThan(0);
    for (const a of answers) expect(classifyAddress(a.address, loopbackAllowed)).toEqual({ allowed: true });
    await expect(checkHost('127.0.0.3', strict)).rejects.toThrow('127.0.0.3 is a loopback address');
    await expect(checkHost('[::1]', strict)).rejects.toThrow('::1 is a loopback address');
  });

  it('judges URLs at registration: scheme, credentials, and the host’s addresses', async () => {
    const policy = { ...strict, httpsOnly: false };
    expect(await checkEndpointUrl('http://93.184.216.34/hooks#frag', policy)).toEqual({ ok: true, url: 'http://93.184.216.34/hooks' });
    expect(await checkEndpointUrl('https://[2606:4700:4700::1111]:8443/x?y=1', policy)).toEqual({ ok: true, url: 'https://[2606:4700:4700::1111]:8443/x?y=1' });
    expect(await checkEndpointUrl('http://93.184.216.34/', { ...policy, httpsOnly: true })).toEqual({ ok: false, reason: 'must be an https URL' });
    expect(await checkEndpointUrl('ftp://93.184.216.34/', policy)).toEqual({ ok: false, reason: 'must be an http or https URL' });
    expect(await checkEndpointUrl('http://u:p@93.184.216.34/', policy)).toEqual({ ok: false, reason: 'must not carry a user name or password' });
    expect(await checkEndpointUrl('not a url', policy)).toEqual({ ok: false, reason: 'is not a URL' });
    for (const url of ['http://127.0.0.1:8080/', 'http://127.0.0.2/', 'http://localhost/', 'http://[::1]/', 'http://[::ffff:7f00:1]/', 'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/', 'http://0.0.0.0/', 'http://2130706433/']) {
      const verdict = await checkEndpointUrl(url, policy);
      expect({ url, ok: verdict.ok }).toEqual({ url, ok: false });
      if (!verdict.ok) expect(verdict.reason).toMatch(/^is not allowed: /);
    }
    expect(await checkEndpointUrl('http://localhost:9/', { ...loopbackAllowed, httpsOnly: false })).toEqual({ ok: true, url: 'http://localhost:9/' });
  });
});

describe('webhook signatures', () => {
  const secret = 'whsec_unit';
  const body = '{"id":"e1","type":"message.created"}';

  it('signs as Stripe (timestamp.body) and GitHub (body) do, verifiable by both recipes', () => {
    const t = Math.floor(Date.now() / 1000);
    const headers = signatureHeaders(secret, body, t);
    expect(headers['webhook-signature']).toBe(`t=${t},v1=${hmacHex(secret, `${t}.${body}`)}`);
    expect(headers['x-hub-signature-256']).toBe(`sha256=${hmacHex(secret, body)}`);
    expect(verifySignature(secret, body, headers['webhook-signature'])).toBe(true);
    expect(verifyAsReadme(secret, body, headers['webhook-signature'])).toBe(true);
    expect(verifyGitHubStyle(secret, body, headers['x-hub-signature-256'])).toBe(true);
  });

  it('refuses a wrong secret, a changed body, a stale timestamp and a malformed header', () => {
    const now = Date.now();
    const t = Math.floor(now / 1000);
    const header = signatureHeaders(secret, body, t)['webhook-signature'];
    expect(verifySignature('whsec_other', body, header, 300, now)).toBe(false);
    expect(verifySignature(secret, `${body} `, header, 300, now)).toBe(false);
    expect(verifySignature(secret, body, header, 300, now + 301_000)).toBe(false);
    expect(verifyAsReadme(secret, body, signatureHeaders(secret, body, t - 600)['webhook-signature'])).toBe(false);
    expect(verifySignature(secret, body, 'v1=abc', 300, now)).toBe(false);
    expect(verifySignature(secret, body, undefined, 300, now)).toBe(false);
  });
});

describe('webhook retry schedule', () => {
  it('doubles per attempt up to the cap, each wait drawn between half and all of it', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const ceiling = Math.min(60_000, 1000 * 2 ** (attempt - 1));
      for (let i = 0; i < 50; i++) {
        const wait = retryDelay(attempt, 1000, 60_000);
        expect(wait).toBeGreaterThanOrEqual(ceiling / 2);
        expect(wait).toBeLessThanOrEqual(ceiling);
      }
    }
    const draws = new Set(Array.from({ length: 20 }, () => retryDelay(3, 1000, 60_000)));
    expect(draws.size).toBeGreaterThan(1);
  });
});
