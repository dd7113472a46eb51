// Flexible checksums: catalogue check values, incremental == one-shot, CRC combination, and
// multipart checksums, cross-checked against the AWS SDK's own CRC implementations and a bitwise
// reference CRC written here.

import { createHash, randomBytes } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';
import { Crc32cJs, Crc32Js } from '@aws-sdk/checksums/crc';
import {
  checksumAlgorithms,
  checksumHeaderName,
  combineCrc,
  compositeChecksum,
  createChecksummer,
  decodeChecksumValue,
  defaultChecksumType,
  digestLengthBytes,
  fullObjectChecksum,
  parseChecksumAlgorithm,
  supportsComposite,
  supportsFullObject,
  type CrcChecksumAlgorithm,
} from '../../../src/s3/checksum.js';
import type { ChecksumAlgorithm } from '../../../src/meta/types.js';
import { TesseraError } from '../../../src/util/errors.js';

const crcAlgorithms: CrcChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME'];
const check = Buffer.from('123456789', 'ascii');

function oneShot(algorithm: ChecksumAlgorithm, data: Uint8Array): Buffer {
  const c = createChecksummer(algorithm);
  c.update(data);
  return c.digest();
}

/** Bit-at-a-time reflected CRC (init = xorout = all ones): slow, obviously correct. */
function referenceCrc(algorithm: CrcChecksumAlgorithm, data: Uint8Array): Buffer {
  const params = {
    CRC32: { width: 32, poly: 0xedb88320n },
    CRC32C: { width: 32, poly: 0x82f63b78n },
    CRC64NVME: { width: 64, poly: 0x9a6c9329ac4bc9b5n },
  }[algorithm];
  const ones = (1n << BigInt(params.width)) - 1n;
  let crc = ones;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let i = 0; i < 8; i++) crc = crc & 1n ? (crc >> 1n) ^ params.poly : crc >> 1n;
  }
  crc ^= ones;
  const out = Buffer.alloc(params.width / 8);
  if (params.width === 64) out.writeBigUInt64BE(crc);
  else out.writeUInt32BE(Number(crc));
  return out;
}

async function sdkCrc(algorithm: CrcChecksumAlgorithm, data: Uint8Array): Promise<Buffer> {
  const impl = algorithm === 'CRC32' ? new Crc32Js() : algorithm === 'CRC32C' ? new Crc32cJs() : new Crc64Nvme();
  impl.update(data);
  return Buffer.from(await impl.digest());
}

function randomSplits(length: number, pieces: number): number[] {
  const cuts = Array.from({ length: pieces - 1 }, () => Math.floor(Math.random() * (length + 1)));
  cuts.sort((a, b) => a - b);
  const sizes: number[] = [];
  let previous = 0;
  for (const cut of [...cuts, length]) {
    sizes.push(cut - previous);
    previous = cut;
  }
  return sizes;
}

describe('check values', () => {
  it('matches the CRC catalogue for "123456789"', () => {
    expect(oneShot('CRC32', check).toString('hex')).toBe('cbf43926');
    expect(oneShot('CRC32C', check).toString('hex')).toBe('e3069283');
    expect(oneShot('CRC64NVME', check).toString('hex')).toBe('ae8b14860a799888');
  });

  it('matches FIPS 180 vectors for SHA1 / SHA256 of "abc"', () => {
    const abc = Buffer.from('abc');
    expect(oneShot('SHA1', abc).toString('hex')).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
    expect(oneShot('SHA256', abc).toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('handles empty input (CRCs are 0, SHAs the empty-string digests)', () => {
    const empty = new Uint8Array(0);
    expect(oneShot('CRC32', empty).toString('hex')).toBe('00000000');
    expect(oneShot('CRC32C', empty).toString('hex')).toBe('00000000');
    expect(oneShot('CRC64NVME', empty).toString('hex')).toBe('0000000000000000');
    expect(oneShot('SHA1', empty).toString('hex')).toBe('da39a3ee5e6b4b0d3255bfef95601890afd80709');
    expect(oneShot('SHA256', empty).toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(createChecksummer('CRC32C').digest().toString('hex')).toBe('00000000');
  });

  it('digests have the documented lengths', () => {
    for (const algorithm of checksumAlgorithms) {
      expect(oneShot(algorithm, randomBytes(17)).length).toBe(digestLengthBytes(algorithm));
    }
    expect(checksumAlgorithms.map(digestLengthBytes)).toEqual([4, 4, 8, 20, 32]);
  });
});

describe('cross-checks', () => {
  it('CRCs agree with the AWS SDK implementations and a bitwise reference', async () => {
    for (const length of [0, 1, 7, 8, 9, 63, 1000, 4099]) {
      const data = randomBytes(length);
      for (const algorithm of crcAlgorithms) {
        const ours = oneShot(algorithm, data);
        expect(ours.equals(referenceCrc(algorithm, data)), `${algorithm} len ${length} vs reference`).toBe(true);
        expect(ours.equals(await sdkCrc(algorithm, data)), `${algorithm} len ${length} vs SDK`).toBe(true);
      }
    }
  });

  it('SHAs agree with node:crypto', () => {
    const data = randomBytes(100_000);
    expect(oneShot('SHA1', data).equals(createHash('sha1').update(data).digest())).toBe(true);
    expect(oneShot('SHA256', data).equals(createHash('sha256').update(data).digest())).toBe(true);
  });
});

describe('incremental update', () => {
  it('random splits (including empty chunks) equal one-shot for every algorithm', () => {
    const data = randomBytes(300_000);
    for (const algorithm of checksumAlgorithms) {
      const expected = oneShot(algorithm, data);
      for (let trial = 0; trial < 5; trial++) {
        const c = createChecksummer(algorithm);
        let offset = 0;
        for (const size of randomSplits(data.length, 12)) {
          c.update(data.subarray(offset, offset + size));
          offset += size;
        }
        expect(c.digest().equals(expected), algorithm).toBe(true);
      }
    }
  });

  it('interleaved checksummers of one algorithm do not share state', () => {
    const a = randomBytes(5000);
    const b = randomBytes(7000);
    for (const algorithm of checksumAlgorithms) {
      const ca = createChecksummer(algorithm);
      const cb = createChecksummer(algorithm);
      ca.update(a.subarray(0, 100));
      cb.update(b.subarray(0, 3000));
      ca.update(a.subarray(100));
      cb.update(b.subarray(3000));
      expect(ca.digest().equals(oneShot(algorithm, a))).toBe(true);
      expect(cb.digest().equals(oneShot(algorithm, b))).toBe(true);
    }
  });

  it('use after digest is a programmer error', () => {
    const c = createChecksummer('CRC32');
    c.digest();
    expect(() => c.update(new Uint8Array(1))).toThrow(/assertion failed/);
    expect(() => c.digest()).toThrow(/assertion failed/);
  });
});

describe('combineCrc', () => {
  it('equals direct computation for random splits, including zero-length pieces', () => {
    for (const algorithm of crcAlgorithms) {
      for (let trial = 0; trial < 30; trial++) {
        const data = randomBytes(Math.floor(Math.random() * 5000));
        const cut = trial % 3 === 0 ? 0 : trial % 3 === 1 ? data.length : Math.floor(Math.random() * (data.length + 1));
        const a = data.subarray(0, cut);
        const b = data.subarray(cut);
        const combined = combineCrc(algorithm, oneShot(algorithm, a), oneShot(algorithm, b), b.length);
        expect(combined.equals(oneShot(algorithm, data)), `${algorithm} cut ${cut}/${data.length}`).toBe(true);
      }
    }
  });

  it('is consistent at terabyte lengths (two decompositions of 5 TiB of zeros agree)', () => {
    const MiB = 2 ** 20;
    const TiB = 2 ** 40;
    for (const algorithm of crcAlgorithms) {
      // crc(0^(2m)) = combine(crc(0^m), crc(0^m), m): double 1 MiB up to 1 TiB and 4 TiB.
      const zeros: Map<number, Buffer> = new Map([[MiB, oneShot(algorithm, new Uint8Array(MiB))]]);
      for (let length = MiB; length < 4 * TiB; length *= 2) {
        const half = zeros.get(length)!;
        zeros.set(length * 2, combineCrc(algorithm, half, half, length));
      }
      const oneTiB = zeros.get(TiB)!;
      const fourTiB = zeros.get(4 * TiB)!;
      const fiveAsFourPlusOne = combineCrc(algorithm, fourTiB, oneTiB, TiB);
      let fiveAsOnes = oneTiB;
      for (let i = 1; i < 5; i++) fiveAsOnes = combineCrc(algorithm, fiveAsOnes, oneTiB, TiB);
      const fiveAsOnePlusFour = combineCrc(algorithm, oneTiB, fourTiB, 4 * TiB);
      expect(fiveAsFourPlusOne.equals(fiveAsOnes), algorithm).toBe(true);
      expect(fiveAsOnePlusFour.equals(fiveAsOnes), algorithm).toBe(true);
      // A random head followed by 5 TiB of zeros, associated both ways.
      const head = oneShot(algorithm, randomBytes(1000));
      const left = combineCrc(algorithm, combineCrc(algorithm, head, fourTiB, 4 * TiB), oneTiB, TiB);
      const right = combineCrc(algorithm, head, fiveAsOnes, 5 * TiB);
      expect(left.equals(right), algorithm).toBe(true);
    }
  });

  it('combining many 1 MiB-scale pieces matches a streamed whole', () => {
    const data = randomBytes(3 << 20);
    for (const algorithm of crcAlgorithms) {
      const sizes = randomSplits(data.length, 7);
      let offset = 0;
      const parts = sizes.map((sizeBytes) => {
        const digest = oneShot(algorithm, data.subarray(offset, offset + sizeBytes));
        offset += sizeBytes;
        return { digest, sizeBytes };
      });
      expect(fullObjectChecksum(algorithm, parts)).toBe(oneShot(algorithm, data).toString('base64'));
    }
  });
});

describe('multipart checksums', () => {
  it('compositeChecksum = base64(hash(concat part digests)) + "-N", computed independently', () => {
    const parts = [randomBytes(1000), randomBytes(2000), randomBytes(10)];
    const sha = parts.map((p) => createHash('sha256').update(p).digest());
    const expectedSha = createHash('sha256').update(Buffer.concat(sha)).digest('base64') + '-3';
    expect(compositeChecksum('SHA256', sha)).toBe(expectedSha);

    const crc = parts.map((p) => {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(zlibCrc32(p));
      return out;
    });
    const whole = Buffer.alloc(4);
    whole.writeUInt32BE(zlibCrc32(Buffer.concat(crc)));
    expect(compositeChecksum('CRC32', crc)).toBe(`${whole.toString('base64')}-3`);
  });

  it('fullObjectChecksum of no parts is the CRC of the empty object, without "-N"', () => {
    expect(fullObjectChecksum('CRC32', [])).toBe('AAAAAA==');
    expect(fullObjectChecksum('CRC64NVME', [])).toBe('AAAAAAAAAAA=');
  });
});

describe('headers and parsing', () => {
  it('names headers in lower case', () => {
    expect(checksumHeaderName('CRC32')).toBe('x-amz-checksum-crc32');
    expect(checksumHeaderName('CRC32C')).toBe('x-amz-checksum-crc32c');
    expect(checksumHeaderName('CRC64NVME')).toBe('x-amz-checksum-crc64nvme');
    expect(checksumHeaderName('SHA256')).toBe('x-amz-checksum-sha256');
  });

  it('parses algorithm names case-insensitively and rejects unknown ones', () => {
    expect(parseChecksumAlgorithm(undefined)).toBeUndefined();
    expect(parseChecksumAlgorithm('')).toBeUndefined();
    expect(parseChecksumAlgorithm('crc32c')).toBe('CRC32C');
    expect(parseChecksumAlgorithm('Crc64Nvme')).toBe('CRC64NVME');
    expect(parseChecksumAlgorithm('sha256')).toBe('SHA256');
    try {
      parseChecksumAlgorithm('md5', 'x-amz-checksum-algorithm');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(TesseraError);
      expect((err as TesseraError).code).toBe('InvalidRequest');
      expect((err as TesseraError).message).toBe('Value for x-amz-checksum-algorithm header is invalid.');
    }
  });

  it('decodes well-formed values and rejects bad base64 or wrong lengths with InvalidRequest', () => {
    const digest = oneShot('CRC32', check);
    expect(decodeChecksumValue('CRC32', digest.toString('base64')).equals(digest)).toBe(true);
    const bad = ['', 'AAAA', 'AAAAAA=', 'AAAAAA', '!!!!!!==', 'AAAAAAAAAAA=', ' AAAAAA=='];
    for (const value of bad) {
      try {
        decodeChecksumValue('CRC32', value);
        expect.unreachable(`accepted ${JSON.stringify(value)}`);
      } catch (err) {
        expect((err as TesseraError).code).toBe('InvalidRequest');
        expect((err as TesseraError).message).toBe('Value for x-amz-checksum-crc32 header is invalid.');
      }
    }
    const sha = oneShot('SHA256', check).toString('base64');
    expect(decodeChecksumValue('SHA256', sha).length).toBe(32);
    expect(() => decodeChecksumValue('SHA1', sha)).toThrow(TesseraError);
  });

  it('states which types each algorithm supports and the default', () => {
    expect(checksumAlgorithms.filter(supportsFullObject)).toEqual(['CRC32', 'CRC32C', 'CRC64NVME']);
    expect(checksumAlgorithms.filter(supportsComposite)).toEqual(['CRC32', 'CRC32C', 'SHA1', 'SHA256']);
    expect(checksumAlgorithms.map(defaultChecksumType)).toEqual([
      'COMPOSITE',
      'COMPOSITE',
      'FULL_OBJECT',
      'COMPOSITE',
      'COMPOSITE',
    ]);
  });
});
