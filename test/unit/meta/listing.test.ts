// ListObjects / ListMultipartUploads roll-up: pages against a brute-force oracle over random keys,
// marker-inside-prefix continuation, and that a rolled-up prefix costs one seek, not its keys.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commonPrefixOf, listRollup } from '../../../src/meta/listing.js';
import type { RollupSource, ScanEntry } from '../../../src/meta/listing.js';
import type { MetaStore } from '../../../src/meta/meta-store.js';
import type { ListObjectsPage } from '../../../src/meta/types.js';
import { byteOrder, objectRecord, prng, tempStore, uploadRecord } from './helpers.js';

const bucketRecord = (name: string) => ({ name, createdMs: 1, location: '' });

/** Every item of a full listing in order: a key, or a common prefix (marked with its kind). */
type Item = { key: string } | { prefix: string };
const itemText = (item: Item): string => ('key' in item ? item.key : item.prefix);

function oracleItems(keys: readonly string[], prefix: string, delimiter: string): Item[] {
  const items: Item[] = [];
  for (const key of [...new Set(keys)].filter((k) => k.startsWith(prefix)).sort(byteOrder)) {
    const at = delimiter === '' ? -1 : key.indexOf(delimiter, prefix.length);
    if (at < 0) {
      items.push({ key });
      continue;
    }
    const common = key.slice(0, at + delimiter.length);
    const last = items[items.length - 1];
    if (last === undefined || !('prefix' in last) || last.prefix !== common) items.push({ prefix: common });
  }
  return items;
}

/** The page AWS returns after `startAfter`: items greater than it, at most max. */
function oraclePage(all: readonly Item[], startAfter: string, max: number): { items: Item[]; isTruncated: boolean } {
  const after = all.filter((item) => startAfter === '' || byteOrder(itemText(item), startAfter) > 0);
  return { items: after.slice(0, max), isTruncated: max > 0 && after.length > max };
}

function pageItems(page: ListObjectsPage): Item[] {
  const items: Item[] = [...page.objects.map((o) => ({ key: o.key })), ...page.commonPrefixes.map((p) => ({ prefix: p }))];
  return items.sort((a, b) => byteOrder(itemText(a), itemText(b)));
}

const pieces = ['a', 'b', '/', '//', '-', 'é', '\u007f', '\uffff', '\ue000', '😀', 'ab', '\u0000', 'z'];
function randomKey(random: () => number): string {
  const length = 1 + Math.floor(random() * 6);
  let key = '';
  for (let i = 0; i < length; i++) key += pieces[Math.floor(random() * pieces.length)];
  return key;
}
const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

let store: MetaStore;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ store, cleanup } = await tempStore());
});
afterEach(async () => {
  await cleanup();
});

describe('listObjects', () => {
  it('lists inline objects without their bytes, which GET still reads from the record', async () => {
    await store.createBucket(bucketRecord('t'));
    const record = objectRecord('t', 'small');
    const bytes = new Uint8Array(64 * 1024).fill(7);
    record.parts = [{ ...record.parts[0]!, drives: [], sizeBytes: bytes.length, inline: bytes, inlineHash: new Uint8Array(8) }];
    record.sizeBytes = bytes.length;
    await store.putObject(record);
    const page = await store.listObjects('t', { prefix: '', delimiter: '', startAfter: '', maxKeys: 1000 });
    expect(page.objects.map((o) => [o.key, o.sizeBytes, o.etag])).toEqual([['small', bytes.length, record.etag]]);
    expect(page.objects[0]?.parts[0]?.inline).toBeUndefined();
    expect(page.objects[0]?.parts[0]?.inlineHash).toBeUndefined();
    const stored = await store.getObject('t', 'small');
    expect(stored?.parts[0]?.inline?.length).toBe(bytes.length);
  });

  it('pages through a tree with maxKeys 1, 2, 3 without repeating a prefix', async () => {
    const keys = ['a/b', 'a/c', 'a/d/e', 'b', 'c/x', 'c/y', 'd'];
    await store.createBucket(bucketRecord('t'));
    await Promise.all(keys.map((key) => store.putObject(objectRecord('t', key))));
    for (const maxKeys of [1, 2, 3]) {
      const seen: string[] = [];
      let startAfter = '';
      for (;;) {
        const page = await store.listObjects('t', { prefix: '', delimiter: '/', startAfter, maxKeys });
        seen.push(...pageItems(page).map(itemText));
        if (!page.isTruncated) break;
        expect(page.nextStartAfter).toBeDefined();
        startAfter = page.nextStartAfter ?? '';
      }
      expect(seen).toEqual(['a/', 'b', 'c/', 'd']);
    }
    // A v1 marker inside a rolled-up prefix does not bring the prefix back.
    const page = await store.listObjects('t', { prefix: '', delimiter: '/', startAfter: 'a/b', maxKeys: 10 });
    expect(pageItems(page).map(itemText)).toEqual(['b', 'c/', 'd']);
    const inner = await store.listObjects('t', { prefix: 'a/', delimiter: '/', startAfter: 'a/b', maxKeys: 10 });
    expect(pageItems(inner).map(itemText)).toEqual(['a/c', 'a/d/']);
  });

  it('matches a brute-force oracle over random keys, prefixes, delimiters and page sizes', async () => {
    const random = prng(42);
    for (let trial = 0; trial < 40; trial++) {
      const bucket = `b${trial}`;
      await store.createBucket(bucketRecord(bucket));
      const keys = Array.from({ length: 1 + Math.floor(random() * 120) }, () => randomKey(random));
      await Promise.all([...new Set(keys)].map((key) => store.putObject(objectRecord(bucket, key))));
      for (let q = 0; q < 15; q++) {
        const delimiter = pick(random, ['', '/', '-', 'é', '😀', 'ab', '//', '\u0000']);
        const prefix = pick(random, ['', '', randomKey(random), Array.from(pick(random, keys)).slice(0, 1 + Math.floor(random() * 3)).join("")]);
        const maxKeys = pick(random, [1, 2, 3, 7, 1000]);
        const all = oracleItems(keys, prefix, delimiter);
        const context = JSON.stringify({ trial, prefix, delimiter, maxKeys });
        // Concatenated pages equal the oracle's full listing.
        const seen: Item[] = [];
        let startAfter = '';
        for (let pages = 0; ; pages++) {
          expect(pages, context).toBeLessThanOrEqual(all.length);
          const page = await store.listObjects(bucket, { prefix, delimiter, startAfter, maxKeys });
          expect(page.objects.length + page.commonPrefixes.length, context).toBeLessThanOrEqual(maxKeys);
          seen.push(...pageItems(page));
          if (!page.isTruncated) break;
          startAfter = page.nextStartAfter ?? '';
          expect(startAfter, context).toBe(itemText(seen[seen.length - 1] as Item));
        }
        expect(seen, context).toEqual(all);
        // A page from an arbitrary startAfter (keys or random strings) equals the oracle's page.
        const from = pick(random, [randomKey(random), pick(random, keys), itemText(pick(random, all.length ? all : [{ key: '' }]))]);
        const page = await store.listObjects(bucket, { prefix, delimiter, startAfter: from, maxKeys });
        const expected = oraclePage(all, from, maxKeys);
        expect({ items: pageItems(page), isTruncated: page.isTruncated }, `${context} from ${JSON.stringify(from)}`).toEqual(expected);
      }
    }
  });

  it('maxKeys 0 returns an empty, non-truncated page (AWS behaviour)', async () => {
    await store.createBucket(bucketRecord('z'));
    await store.putObject(objectRecord('z', 'k'));
    expect(await store.listObjects('z', { prefix: '', delimiter: '', startAfter: '', maxKeys: 0 }))
      .toEqual({ objects: [], commonPrefixes: [], isTruncated: false });
  });

  it('returns one full page from 20,000 keys under 200 prefixes', async () => {
    await store.createBucket(bucketRecord('big'));
    const keys: string[] = [];
    for (let p = 0; p < 200; p++) {
      for (let k = 0; k < 95; k++) keys.push(`dir${String(p).padStart(3, '0')}/file${k}`);
    }
    for (let k = 0; k < 1000; k++) keys.push(`top${String(k).padStart(4, '0')}`);
    expect(keys).toHaveLength(20_000);
    await Promise.all(keys.map((key) => store.putObject(objectRecord('big', key))));
    const page = await store.listObjects('big', { prefix: '', delimiter: '/', startAfter: '', maxKeys: 1000 });
    const expected = oraclePage(oracleItems(keys, '', '/'), '', 1000);
    expect(page.commonPrefixes).toHaveLength(200);
    expect(page.objects).toHaveLength(800);
    expect({ items: pageItems(page), isTruncated: page.isTruncated }).toEqual(expected);
    expect(page.nextStartAfter).toBe('top0799');
  });

  it('throws NoSuchBucket', async () => {
    await expect(store.listObjects('nope', { prefix: '', delimiter: '', startAfter: '', maxKeys: 10 }))
      .rejects.toThrow(expect.objectContaining({ code: 'NoSuchBucket' }));
  });
});

describe('listRollup cost', () => {
  it('visits one entry per common prefix, not the keys inside it', async () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `p${i % 10}/${String(i).padStart(5, '0')}`).sort(byteOrder);
    let visited = 0;
    const encode = (s: string) => Buffer.from(s, 'utf8');
    const source: RollupSource<null> = {
      *scan(start, end) {
        for (const key of keys) {
          const at = encode(key);
          if (Buffer.compare(at, start) < 0 || Buffer.compare(at, end) >= 0) continue;
          visited += 1;
          yield { key, value: null } satisfies ScanEntry<null>;
        }
      },
      prefixEnd: (prefix) => {
        const end = Buffer.from(prefix === '' ? '\uffff' : prefix, 'utf8');
        end[end.length - 1] = (end[end.length - 1] ?? 0) + 1;
        return end;
      },
    };
    const page = listRollup(source, { prefix: '', delimiter: '/', startAfter: '', max: 1000, start: Buffer.alloc(0) });
    expect(page.items.map((i) => (i.kind === 'prefix' ? i.prefix : i.entry.key))).toEqual(
      Array.from({ length: 10 }, (_, i) => `p${i}/`),
    );
    expect(visited).toBe(10);
    expect(commonPrefixOf('a/b/c', 'a/', '/')).toBe('a/b/');
    expect(commonPrefixOf('a/b', 'a/', '/')).toBeUndefined();
  });
});

describe('listUploads', () => {
  it('rolls up keys and orders by key then initiation; pages with keyMarker/uploadIdMarker', async () => {
    await store.createBucket(bucketRecord('u'));
    const uploads = [
      uploadRecord('u', 'a/1', 'id-c', 30), uploadRecord('u', 'a/2', 'id-x', 10),
      uploadRecord('u', 'k', 'id-z', 10), uploadRecord('u', 'k', 'id-b', 20), uploadRecord('u', 'k', 'id-a', 20),
      uploadRecord('u', 'm', 'id-m', 5),
    ];
    await Promise.all(uploads.map((u) => store.createUpload(u)));
    const all = await store.listUploads('u', { prefix: '', delimiter: '', keyMarker: '', uploadIdMarker: '', maxUploads: 1000 });
    expect(all.uploads.map((u) => `${u.key}:${u.uploadId}`)).toEqual(['a/1:id-c', 'a/2:id-x', 'k:id-z', 'k:id-a', 'k:id-b', 'm:id-m']);
    expect(all.isTruncated).toBe(false);

    const rolled = await store.listUploads('u', { prefix: '', delimiter: '/', keyMarker: '', uploadIdMarker: '', maxUploads: 2 });
    expect(rolled.commonPrefixes).toEqual(['a/']);
    expect(rolled.uploads.map((u) => u.uploadId)).toEqual(['id-z']);
    expect(rolled).toMatchObject({ isTruncated: true, nextKeyMarker: 'k', nextUploadIdMarker: 'id-z' });

    const next = await store.listUploads('u', { prefix: '', delimiter: '/', keyMarker: 'k', uploadIdMarker: 'id-z', maxUploads: 2 });
    expect(next.uploads.map((u) => u.uploadId)).toEqual(['id-a', 'id-b']);
    expect(next).toMatchObject({ isTruncated: true, nextKeyMarker: 'k', nextUploadIdMarker: 'id-b' });
    const last = await store.listUploads('u', { prefix: '', delimiter: '/', keyMarker: 'k', uploadIdMarker: 'id-b', maxUploads: 2 });
    expect(last.uploads.map((u) => u.uploadId)).toEqual(['id-m']);
    expect(last.isTruncated).toBe(false);

    // keyMarker alone: keys strictly greater; a marker inside 'a/' does not repeat it.
    const afterK = await store.listUploads('u', { prefix: '', delimiter: '', keyMarker: 'k', uploadIdMarker: '', maxUploads: 10 });
    expect(afterK.uploads.map((u) => u.uploadId)).toEqual(['id-m']);
    const inA = await store.listUploads('u', { prefix: '', delimiter: '/', keyMarker: 'a/1', uploadIdMarker: '', maxUploads: 10 });
    expect(inA.commonPrefixes).toEqual([]);
    expect(inA.uploads.map((u) => u.uploadId)).toEqual(['id-z', 'id-a', 'id-b', 'id-m']);

    // The marker upload was aborted meanwhile: keyMarker's uploads with a greater id follow.
    await store.abortUpload('u', 'k', 'id-z');
    const gone = await store.listUploads('u', { prefix: '', delimiter: '', keyMarker: 'k', uploadIdMarker: 'id-z', maxUploads: 10 });
    expect(gone.uploads.map((u) => u.uploadId)).toEqual(['id-m']);
    const goneA = await store.listUploads('u', { prefix: '', delimiter: '', keyMarker: 'k', uploadIdMarker: 'id-a0', maxUploads: 10 });
    expect(goneA.uploads.map((u) => u.uploadId)).toEqual(['id-b', 'id-m']);

    const prefixed = await store.listUploads('u', { prefix: 'a/', delimiter: '/', keyMarker: '', uploadIdMarker: '', maxUploads: 10 });
    expect(prefixed.uploads.map((u) => u.key)).toEqual(['a/1', 'a/2']);
    expect(await store.listUploads('u', { prefix: '', delimiter: '', keyMarker: '', uploadIdMarker: '', maxUploads: 0 }))
      .toEqual({ uploads: [], commonPrefixes: [], isTruncated: false });
    await expect(store.listUploads('nope', { prefix: '', delimiter: '', keyMarker: '', uploadIdMarker: '', maxUploads: 1 }))
      .rejects.toThrow(expect.objectContaining({ code: 'NoSuchBucket' }));
  });

  it('matches the object-listing oracle over random keys (one upload per key)', async () => {
    const random = prng(7);
    for (let trial = 0; trial < 15; trial++) {
      const bucket = `u${trial}`;
      await store.createBucket(bucketRecord(bucket));
      const keys = [...new Set(Array.from({ length: 1 + Math.floor(random() * 60) }, () => randomKey(random)))];
      await Promise.all(keys.map((key, i) => store.createUpload(uploadRecord(bucket, key, `${bucket}-${i}`))));
      for (let q = 0; q < 10; q++) {
        const delimiter = pick(random, ['', '/', 'é', '\u0000']);
        const prefix = pick(random, ['', Array.from(randomKey(random))[0] ?? ""]);
        const maxUploads = pick(random, [1, 2, 5, 1000]);
        const seen: Item[] = [];
        let keyMarker = '';
        let uploadIdMarker = '';
        for (;;) {
          const page = await store.listUploads(bucket, { prefix, delimiter, keyMarker, uploadIdMarker, maxUploads });
          const items: Item[] = [...page.uploads.map((u) => ({ key: u.key })), ...page.commonPrefixes.map((p) => ({ prefix: p }))];
          seen.push(...items.sort((a, b) => byteOrder(itemText(a), itemText(b))));
          if (!page.isTruncated) break;
          keyMarker = page.nextKeyMarker ?? '';
          uploadIdMarker = page.nextUploadIdMarker ?? '';
        }
        expect(seen, JSON.stringify({ trial, prefix, delimiter, maxUploads })).toEqual(oracleItems(keys, prefix, delimiter));
      }
    }
  });
});
