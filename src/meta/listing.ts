// The delimiter roll-up shared by ListObjects and ListMultipartUploads, over any byte-ordered
// scan. After a common prefix is emitted (or skipped) the scan seeks past every key under it,
// so the cost of a page depends on what it returns, never on how many keys a prefix hides.
import { compareUtf8 } from './keys.js';
import { keyLengthMaxBytes } from '../util/limits.js';

/** An entry of an ordered scan: its S3 object key and the stored value. */
export interface ScanEntry<T> {
  key: string;
  value: T;
}

/** Where a roll-up listing reads from; positions are encoded LMDB keys of one sub-database. */
export interface RollupSource<T> {
  /** Entries with start <= position < end, ascending. Iterated lazily; may be abandoned early. */
  scan(start: Buffer, end: Buffer): Iterable<ScanEntry<T>>;
  /** Position just past every entry whose key starts with `prefix` (prefix '' = end of bucket). */
  prefixEnd(prefix: string): Buffer;
}

export interface RollupQuery<T> {
  prefix: string;
  /** '' = no roll-up. */
  delimiter: string;
  /** Common prefixes <= this (UTF-8 byte order) were already returned by an earlier page. */
  startAfter: string;
  /** Entries plus common prefixes per page, >= 1. */
  max: number;
  /** Where the scan starts (inclusive); the caller places it after startAfter. */
  start: Buffer;
  /** Drops entries the start position could not exclude (optional). */
  skip?: (entry: ScanEntry<T>) => boolean;
}

/** One item of a page, in listing order. */
export type RollupItem<T> = { kind: 'entry'; entry: ScanEntry<T> } | { kind: 'prefix'; prefix: string };

export interface RollupPage<T> {
  items: RollupItem<T>[];
  isTruncated: boolean;
}

/**
 * The common prefix `key` rolls up into: prefix + key's text up to and including the first
 * `delimiter` after `prefix`; undefined when the key is listed itself (ListObjects API reference).
 */
export function commonPrefixOf(key: string, prefix: string, delimiter: string): string | undefined {
  if (delimiter === '') return undefined;
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : key.slice(0, at + delimiter.length);
}

/**
 * Lists entries of `source` under `query.prefix` from `query.start`, rolling keys that contain
 * the delimiter after the prefix into common prefixes. Entries and prefixes together count toward
 * `max`; isTruncated is true when at least one more item would follow. Common prefixes that are
 * <= startAfter are not repeated (v1 marker semantics: a marker inside a prefix skips the prefix).
 */
export function listRollup<T>(source: RollupSource<T>, query: RollupQuery<T>): RollupPage<T> {
  const items: RollupItem<T>[] = [];
  const end = source.prefixEnd(query.prefix);
  let position: Buffer | undefined = query.start;
  while (position !== undefined) {
    const from: Buffer = position;
    position = undefined;
    for (const entry of source.scan(from, end)) {
      if (query.skip?.(entry)) continue;
      const prefix = commonPrefixOf(entry.key, query.prefix, query.delimiter);
      if (prefix === undefined) {
        if (items.length >= query.max) return { items, isTruncated: true };
        items.push({ kind: 'entry', entry });
        continue;
      }
      if (compareUtf8(prefix, query.startAfter) > 0) {
        if (items.length >= query.max) return { items, isTruncated: true };
        items.push({ kind: 'prefix', prefix });
      }
      position = source.prefixEnd(prefix);
      break;
    }
  }
  return { items, isTruncated: false };
}

/** A listing start position; `skip` drops entries the position could not exclude. */
export interface MarkerPosition<T> {
  start: Buffer;
  overLong: boolean;
  skip?: (entry: ScanEntry<T>) => boolean;
}

/**
 * Position of the first key > `marker` (bytes): the encoding of marker + 0x00 (the next byte
 * string). A marker longer than any stored key is cut to keyLengthMaxBytes (overLong: the caller
 * filters keys <= marker), keeping the position within LMDB's key limit.
 */
export function positionAfter(scope: Buffer, marker: Buffer, encode: (raw: Buffer, terminate: boolean) => Buffer): { start: Buffer; overLong: boolean } {
  if (marker.length > keyLengthMaxBytes) {
    return { start: Buffer.concat([scope, encode(marker.subarray(0, keyLengthMaxBytes), false)]), overLong: true };
  }
  return { start: Buffer.concat([scope, encode(Buffer.concat([marker, Buffer.of(0)]), true)]), overLong: false };
}

/** A roll-up page split into its entries and common prefixes, with the last item's key or prefix. */
export function splitRollupPage<V>(page: { items: readonly RollupItem<V>[] }): { entries: V[]; commonPrefixes: string[]; last: RollupItem<V> | undefined } {
  const entries: V[] = [];
  const commonPrefixes: string[] = [];
  for (const item of page.items) {
    if (item.kind === 'entry') entries.push(item.entry.value);
    else commonPrefixes.push(item.prefix);
  }
  return { entries, commonPrefixes, last: page.items[page.items.length - 1] };
}
