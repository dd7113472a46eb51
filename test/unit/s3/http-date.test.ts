// HTTP-date parsing (RFC 9110 section 5.6.7) and what the conditional headers make of dates that
// are not HTTP-dates: ignored, never read as a year (Date.parse reads "1" as 2001).
import { describe, expect, it } from 'vitest';
import type { ObjectRecord } from '../../../src/meta/types.js';
import { checkCopySourceConditions, checkReadConditions } from '../../../src/s3/conditions.js';
import { parseHttpDate } from '../../../src/s3/http-date.js';
import { codeOf } from '../../helpers/error-code.js';

const rfcExampleMs = Date.UTC(1994, 10, 6, 8, 49, 37);

describe('parseHttpDate', () => {
  it('reads the three forms of RFC 9110 to the same instant', () => {
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(rfcExampleMs);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', Date.UTC(2026, 0, 1))).toBe(rfcExampleMs);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(rfcExampleMs);
    expect(parseHttpDate('Sun Nov 16 08:49:37 1994')).toBe(Date.UTC(1994, 10, 16, 8, 49, 37));
  });

  it('reads what SDKs send (Date.toUTCString, botocore, Go http.TimeFormat)', () => {
    const ms = Date.UTC(2026, 1, 3, 4, 5, 6);
    expect(parseHttpDate(new Date(ms).toUTCString())).toBe(ms);
    expect(parseHttpDate('Tue, 03 Feb 2026 04:05:06 GMT')).toBe(ms);
  });

  it('places a two-digit RFC 850 year no more than 50 years ahead of now', () => {
    const now = Date.UTC(2026, 5, 1);
    expect(new Date(parseHttpDate('Monday, 01-Jan-76 00:00:00 GMT', now)!).getUTCFullYear()).toBe(2076);
    expect(new Date(parseHttpDate('Friday, 01-Jan-77 00:00:00 GMT', now)!).getUTCFullYear()).toBe(1977);
    expect(new Date(parseHttpDate('Sunday, 01-Jan-23 00:00:00 GMT', now)!).getUTCFullYear()).toBe(2023);
  });

  it('keeps four-digit years below 100 as written (Date.UTC would make them 19xx)', () => {
    expect(new Date(parseHttpDate('Sat, 01 Jan 0050 00:00:00 GMT')!).getUTCFullYear()).toBe(50);
  });

  it('ignores everything else: bare numbers, ISO 8601, other zones, wrong case, impossible dates', () => {
    for (const text of [
      '1', '0', '2026', '-1', '', ' ', 'yesterday', '2026-01-02T03:04:05Z', '2026-01-02',
      'Sun, 06 Nov 1994 08:49:37 +0000', 'Sun, 06 Nov 1994 08:49:37 UTC', 'Sun, 06 Nov 1994 08:49:37',
      'sun, 06 nov 1994 08:49:37 gmt', 'Sun, 6 Nov 1994 08:49:37 GMT', 'Sun, 06 Nov 94 08:49:37 GMT',
      'Sun, 31 Feb 1994 08:49:37 GMT', 'Sun, 00 Nov 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 24:00:00 GMT',
      'Sun, 06 Nov 1994 08:60:00 GMT', 'Sun, 06 Nov 1994 08:49:61 GMT', 'Fun, 06 Nov 1994 08:49:37 GMT',
      'Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT', 'Sunday, 06-Nov-1994 08:49:37 GMT',
      'Sun Nov 6 08:49:37 1994',
    ]) {
      expect(parseHttpDate(text), text).toBeUndefined();
    }
    expect(parseHttpDate(undefined)).toBeUndefined();
  });

  it('accepts 29 February only in leap years, and a leap second', () => {
    expect(parseHttpDate('Thu, 29 Feb 2024 00:00:00 GMT')).toBe(Date.UTC(2024, 1, 29));
    expect(parseHttpDate('Sun, 29 Feb 2026 00:00:00 GMT')).toBeUndefined();
    expect(parseHttpDate('Sat, 31 Dec 2016 23:59:60 GMT')).toBe(Date.UTC(2017, 0, 1));
  });
});

describe('conditions with dates that are not HTTP-dates', () => {
  const record = { etag: 'abc', lastModifiedMs: Date.UTC(2026, 0, 2, 3, 4, 5) } as ObjectRecord;

  it('If-Unmodified-Since: 1 and other non-dates are ignored (no 412), real dates still apply', () => {
    for (const value of ['1', '2026', '0', 'now', '2001-01-01T00:00:00Z']) {
      expect(codeOf(() => checkReadConditions({ 'if-unmodified-since': value }, record)), value).toBeUndefined();
      expect(codeOf(() => checkCopySourceConditions({ 'x-amz-copy-source-if-unmodified-since': value }, record)), value).toBeUndefined();
    }
    expect(codeOf(() => checkReadConditions({ 'if-unmodified-since': 'Mon, 01 Jan 2001 00:00:00 GMT' }, record))).toBe('PreconditionFailed');
    expect(codeOf(() => checkCopySourceConditions({ 'x-amz-copy-source-if-unmodified-since': 'Mon, 01 Jan 2001 00:00:00 GMT' }, record))).toBe('PreconditionFailed');
  });

  it('If-Modified-Since with a non-date is ignored (no 304); a later real date gives 304', () => {
    for (const value of ['99999', '3000', 'Fri, 01 Jan 3000']) {
      expect(codeOf(() => checkReadConditions({ 'if-modified-since': value }, record)), value).toBeUndefined();
      expect(codeOf(() => checkCopySourceConditions({ 'x-amz-copy-source-if-modified-since': value }, record)), value).toBeUndefined();
    }
    expect(codeOf(() => checkReadConditions({ 'if-modified-since': 'Wed, 01 Jan 3000 00:00:00 GMT' }, record))).toBe('NotModified');
  });
});
