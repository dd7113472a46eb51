// The node's TLS certificate: configured files are used as given; otherwise a self-signed ECDSA
// P-256 certificate is generated once under DATA/tls and reused on every start. Files are written
// key first, each atomically, so a crash leaves either both files or a state we regenerate.

import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { errorCodeOf, TesseraError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';

/** Lifetime of a generated certificate: 825 days, the longest Apple platforms accept for TLS. */
export const certificateValidityDays = 825;
/** notBefore is back-dated by this much so clients with a slightly slow clock accept a new cert. */
export const certificateBackdateMs = 60 * 60 * 1000;

/** Where a generated certificate lives, relative to the data directory. */
export function certificatePaths(dataDir: string): { directory: string; certFile: string; keyFile: string } {
  const directory = join(dataDir, 'tls');
  return { directory, certFile: join(directory, 'cert.pem'), keyFile: join(directory, 'key.pem') };
}

/**
 * Returns DATA/tls/cert.pem and key.pem, generating them when either is missing (`created: true`).
 * Generated: self-signed X.509 v3, ECDSA P-256 with SHA-256, CN = os.hostname() (or 'localhost'),
 * valid `certificateValidityDays` from one hour ago, serverAuth; SANs: DNS localhost, IP 127.0.0.1,
 * IP ::1, DNS os.hostname(), plus each of `hostNames` (IP literals become IP SANs). Key mode 0600,
 * cert 0644, directory 0700. Existing files are not regenerated when `hostNames` changes.
 * @throws TesseraError 'InvalidConfig' when existing files do not parse or the key does not match
 *   the certificate (message names the file); Node errno errors for I/O failures.
 */
export async function ensureCertificate(
  dataDir: string,
  hostNames: string[],
): Promise<{ certFile: string; keyFile: string; created: boolean }> {
  const { directory, certFile, keyFile } = certificatePaths(dataDir);
  const existing = await readPair(certFile, keyFile);
  if (existing !== undefined) {
    checkPair(existing.certPem, existing.keyPem, certFile, keyFile);
    return { certFile, keyFile, created: false };
  }
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const { certPem, keyPem } = await generateCertificate(hostNames);
  await writeFileAtomic(keyFile, keyPem, 0o600);
  await writeFileAtomic(certFile, certPem, 0o644);
  return { certFile, keyFile, created: true };
}

/**
 * Checks that `certPem` and `keyPem` parse and belong together (for configured tls.certFile/keyFile
 * as well as generated ones).
 * @throws TesseraError 'InvalidConfig' naming the offending file.
 */
export function checkPair(certPem: string, keyPem: string, certFile: string, keyFile: string): void {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch (err) {
    throw new TesseraError('InvalidConfig', `TLS certificate ${certFile} is not a PEM X.509 certificate`, { file: certFile }, { cause: err });
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new TesseraError('InvalidConfig', `TLS key ${keyFile} is not a PEM private key (encrypted keys are not supported)`, { file: keyFile }, { cause: err });
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new TesseraError('InvalidConfig', `TLS key ${keyFile} does not match certificate ${certFile}`, { file: keyFile });
  }
}

async function readPair(certFile: string, keyFile: string): Promise<{ certPem: string; keyPem: string } | undefined> {
  const [certPem, keyPem] = await Promise.all([readIfExists(certFile), readIfExists(keyFile)]);
  // One without the other means a crash between the two writes: regenerate both.
  if (certPem === undefined || keyPem === undefined) return undefined;
  return { certPem, keyPem };
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (errorCodeOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}

interface SubjectAltName {
  type: 2 | 7;
  value?: string;
  ip?: string;
}

/** SAN list: DNS localhost, IP 127.0.0.1, IP ::1, DNS <hostname>, then `extra`, deduplicated. */
export function subjectAltNames(extra: string[]): SubjectAltName[] {
  const names = ['localhost', '127.0.0.1', '::1', validHostName(hostname()), ...extra];
  const seen = new Set<string>();
  const out: SubjectAltName[] = [];
  for (const raw of names) {
    if (raw === undefined || raw === '') continue;
    const name = raw.toLowerCase();
    if (seen.has(name)) continue;
    seen.add(name);
    out.push(isIP(name) !== 0 ? { type: 7, ip: name } : { type: 2, value: name });
  }
  return out;
}

/**
 * A new self-signed ECDSA P-256 certificate and key in PEM, valid certificateValidityDays from an
 * hour ago, for the names of subjectAltNames(hostNames): what `s3d server` makes on first start.
 */
export async function generateCertificate(hostNames: string[]): Promise<{ certPem: string; keyPem: string }> {
  const notBeforeDate = new Date(Date.now() - certificateBackdateMs);
  const notAfterDate = new Date(notBeforeDate.getTime() + certificateValidityDays * 24 * 60 * 60 * 1000);
  const commonName = validHostName(hostname()) ?? 'localhost';
  const pems = await generate([{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'Tessera (self-signed)' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: subjectAltNames(hostNames) },
    ],
  });
  return { certPem: pems.cert, keyPem: pems.private };
}

/** `name` when it is a usable DNS name (os.hostname() may be empty or contain '_'), else undefined. */
function validHostName(name: string): string | undefined {
  return /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(name) ? name : undefined;
}
