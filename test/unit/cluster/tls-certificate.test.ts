// Generated TLS certificate: SANs, validity, file modes, reuse, and a real HTTPS handshake from a
// client that trusts only this certificate.

import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateValidityDays, ensureCertificate } from '../../../src/cluster/tls-certificate.js';
import { TesseraError } from '../../../src/util/errors.js';

let dataDir: string;
let result: Awaited<ReturnType<typeof ensureCertificate>>;
let server: Server;
let port: number;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tessera-tls-'));
  result = await ensureCertificate(dataDir, ['s3.test.example', '10.1.2.3']);
  const [cert, key] = await Promise.all([readFile(result.certFile), readFile(result.keyFile)]);
  server = createServer({ cert, key }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await rm(dataDir, { recursive: true, force: true });
});

function get(options: { servername?: string; ca?: Buffer }): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', ...options, agent: false },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(body));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('ensureCertificate', () => {
  it('generates DATA/tls/cert.pem and key.pem (key mode 0600)', async () => {
    expect(result.created).toBe(true);
    expect(result.certFile).toBe(join(dataDir, 'tls', 'cert.pem'));
    expect(result.keyFile).toBe(join(dataDir, 'tls', 'key.pem'));
    expect((await stat(result.keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, 'tls'))).mode & 0o077).toBe(0);
  });

  it('has the SANs, CN, key type and validity promised', async () => {
    const cert = new X509Certificate(await readFile(result.certFile));
    const sans = (cert.subjectAltName ?? '').split(', ');
    expect(sans).toContain('DNS:localhost');
    expect(sans).toContain('IP Address:127.0.0.1');
    expect(sans.some((san) => /^IP Address:(::1|0:0:0:0:0:0:0:1)$/i.test(san))).toBe(true);
    expect(sans).toContain(`DNS:${hostname().toLowerCase()}`);
    expect(sans).toContain('DNS:s3.test.example');
    expect(sans).toContain('IP Address:10.1.2.3');
    expect(cert.subject).toContain(`CN=${hostname()}`);
    expect(cert.publicKey.asymmetricKeyType).toBe('ec');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
    expect(Math.round(days)).toBe(certificateValidityDays);
    expect(Date.parse(cert.validFrom)).toBeLessThan(Date.now());
    expect(cert.ca).toBe(false);
  });

  it('serves HTTPS to a client trusting only this certificate, by name and by IP', async () => {
    const ca = await readFile(result.certFile);
    expect(await get({ ca, servername: 'localhost' })).toBe('ok');
    expect(await get({ ca })).toBe('ok'); // host 127.0.0.1: checked against the IP SAN
    expect(await get({ ca, servername: 's3.test.example' })).toBe('ok');
  });

  it('is rejected by a client that does not trust it, or for a name it lacks', async () => {
    await expect(get({ servername: 'localhost' })).rejects.toThrow(/self[- ]signed/i);
    const ca = await readFile(result.certFile);
    await expect(get({ ca, servername: 'other.example' })).rejects.toThrow(/altnames|Hostname/i);
  });

  it('reuses existing files', async () => {
    const before = await readFile(result.certFile, 'utf8');
    const again = await ensureCertificate(dataDir, ['different.example']);
    expect(again.created).toBe(false);
    expect(await readFile(again.certFile, 'utf8')).toBe(before);
  });

  it('regenerates when one of the pair is missing, and rejects a mismatched pair', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-tls-'));
    try {
      const first = await ensureCertificate(dir, []);
      await unlink(first.certFile);
      const second = await ensureCertificate(dir, []);
      expect(second.created).toBe(true);
      const other = await ensureCertificate(dataDir, []);
      await writeFile(second.keyFile, await readFile(other.keyFile));
      await expect(ensureCertificate(dir, [])).rejects.toSatisfy(
        (err: unknown) => err instanceof TesseraError && err.code === 'InvalidConfig' && /does not match/.test(err.message),
      );
      await writeFile(second.certFile, 'garbage');
      await expect(ensureCertificate(dir, [])).rejects.toThrow(/not a PEM X\.509 certificate/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
