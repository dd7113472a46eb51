// `node dist/bench/hash.bench.js`: single-thread MB/s of the hash and CRC candidates on 1 MiB
// blocks. It backs two choices: XXH3-64 (hash-wasm) as the per-block bitrot hash, and
// hash-wasm for CRC32C (@aws-crypto/crc32c is pure JS and far slower).
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { createCRC32, createXXHash128, createXXHash3, createBLAKE3 } from 'hash-wasm';

/** Block hashed per call, bytes (the default stripe block). */
export const hashBenchBlockBytes = 1024 * 1024;
/** Calls timed per candidate (after one warm-up call). */
export const hashBenchCalls = 200;

/** One candidate's result. */
export interface HashResult {
  name: string;
  megabytesPerSecond: number;
}

function time(name: string, block: Buffer, fn: () => void): HashResult {
  fn();
  const start = performance.now();
  for (let i = 0; i < hashBenchCalls; i++) fn();
  const seconds = (performance.now() - start) / 1000;
  return { name, megabytesPerSecond: (hashBenchCalls * block.length) / 1e6 / seconds };
}

/** Measures every candidate on one random block. */
export async function runHashBench(): Promise<HashResult[]> {
  const block = randomBytes(hashBenchBlockBytes);
  const xxh3 = await createXXHash3();
  const xxh128 = await createXXHash128();
  const blake3 = await createBLAKE3();
  const crc32c = await createCRC32(0x82f63b78);
  const { Crc32c } = await import('@aws-crypto/crc32c');
  const wasm = (h: { init(): unknown; update(b: Uint8Array): unknown; digest(f: 'binary'): Uint8Array }) => () => {
    h.init();
    h.update(block);
    h.digest('binary');
  };
  return [
    time('XXH3-64 (hash-wasm)', block, wasm(xxh3)),
    time('XXH3-128 (hash-wasm)', block, wasm(xxh128)),
    time('CRC32 (node:zlib)', block, () => zlib.crc32(block)),
    time('CRC32C (hash-wasm)', block, wasm(crc32c)),
    time('CRC32C (@aws-crypto/crc32c)', block, () => new Crc32c().update(block).digest()),
    time('SHA-256 (node:crypto)', block, () => createHash('sha256').update(block).digest()),
    time('MD5 (node:crypto)', block, () => createHash('md5').update(block).digest()),
    time('BLAKE3 (hash-wasm)', block, wasm(blake3)),
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = await runHashBench();
  process.stdout.write(`| hash, ${hashBenchBlockBytes / 1024 / 1024} MiB blocks, one thread | MB/s |\n|---|--:|\n`);
  for (const r of results) process.stdout.write(`| ${r.name} | ${r.megabytesPerSecond.toFixed(0)} |\n`);
}
