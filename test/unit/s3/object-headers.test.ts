// Stored object headers: byte for byte as sent (empty and repeated headers, aws-chunked removed
// from Content-Encoding), and x-amz-meta-* values RFC 2047-decoded in and encoded out as AWS does
// (expected answers are AWS's, as recorded by LocalStack's AWS-validated snapshot tests).
import { describe, expect, it } from 'vitest';
import type { ObjectRecord } from '../../../src/meta/types.js';
import { objectHeadersFrom, objectResponseHeaders, storedContentEncoding } from '../../../src/s3/object-headers.js';
import { metadataResponseValue, storedMetadataValue } from '../../../src/s3/user-metadata.js';
import { codeOf } from '../../helpers/error-code.js';

/** A request as Node hands it over: raw lines (values as latin1 strings of the bytes sent). */
function request(lines: Array<[string, string]>): { headers: Record<string, string>; rawHeaders: string[] } {
  const headers: Record<string, string> = {};
  for (const [name, value] of lines) headers[name.toLowerCase()] ??= value;
  return { headers, rawHeaders: lines.flat() };
}

/** The latin1 string Node gives for the UTF-8 bytes of `text`. */
function utf8Bytes(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** Round trip through storage: what a GET answers for x-amz-meta-<name>. */
function answered(value: string): string {
  return metadataResponseValue(storedMetadataValue(value));
}

describe('standard headers byte for byte', () => {
  it('keeps Content-Encoding as sent unless it names aws-chunked', () => {
    expect(storedContentEncoding('gzip, deflate')).toBe('gzip, deflate');
    expect(storedContentEncoding('GZIP')).toBe('GZIP');
    expect(storedContentEncoding('')).toBe('');
    expect(storedContentEncoding('aws-chunked')).toBeUndefined();
    expect(storedContentEncoding('aws-chunked,gzip')).toBe('gzip');
    expect(storedContentEncoding('gzip,aws-chunked')).toBe('gzip');
    expect(storedContentEncoding('gzip, aws-chunked, br')).toBe('gzip, br');
    expect(storedContentEncoding('Aws-Chunked , ')).toBeUndefined();
  });

  it('stores empty values and joins repeated headers with "," (Node alone drops a second Content-Type)', () => {
    const headers = objectHeadersFrom(request([
      ['Content-Type', 'text/plain'], ['content-type', 'text/html'],
      ['Content-Encoding', 'gzip'], ['Content-Encoding', 'br'],
      ['Cache-Control', ''], ['Content-Language', 'de-DE, en-CA'], ['Expires', 'not a date'], ['Expires', 'again'],
      ['Content-Disposition', 'attachment; filename="a b.txt"'],
      ['x-amz-meta-twice', 'fred'], ['X-Amz-Meta-Twice', 'barney'], ['x-amz-meta-empty', ''],
    ]));
    expect(headers).toEqual({
      contentType: 'text/plain,text/html',
      contentEncoding: 'gzip,br',
      cacheControl: '',
      contentLanguage: 'de-DE, en-CA',
      expires: 'not a date,again',
      contentDisposition: 'attachment; filename="a b.txt"',
      userMetadata: { twice: 'fred,barney', empty: '' },
    });
    const record = { etag: 'e', lastModifiedMs: 0, ...headers } as ObjectRecord;
    const out = objectResponseHeaders(record, false);
    expect(out['Cache-Control']).toBe('');
    expect(out['Content-Type']).toBe('text/plain,text/html');
    expect(out['Content-Encoding']).toBe('gzip,br');
    expect(out['Expires']).toBe('not a date,again');
    expect(out['x-amz-meta-empty']).toBe('');
  });

  it('returns non-ASCII bytes of standard headers unchanged (AWS does not encode them)', () => {
    const disposition = utf8Bytes('attachment; filename="résumé.pdf"');
    const headers = objectHeadersFrom(request([['Content-Disposition', disposition]]));
    const out = objectResponseHeaders({ etag: 'e', lastModifiedMs: 0, ...headers } as ObjectRecord, false);
    expect(out['Content-Disposition']).toBe(disposition);
  });

  it('counts metadata size in UTF-8 bytes of the decoded values', () => {
    const big = 'é'.repeat(1100);
    expect(codeOf(() => objectHeadersFrom(request([['x-amz-meta-a', utf8Bytes(big)]])))).toBe('MetadataTooLarge');
    expect(codeOf(() => objectHeadersFrom(request([['x-amz-meta-a', `=?UTF-8?B?${Buffer.from(big).toString('base64')}?=`]])))).toBe('MetadataTooLarge');
    expect(codeOf(() => objectHeadersFrom(request([['x-amz-meta-a', 'v'.repeat(2000)]])))).toBeUndefined();
  });
});

describe('x-amz-meta-* and RFC 2047', () => {
  it('returns printable ASCII as is, "=?" included', () => {
    const safe = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~ 09AZaz';
    expect(answered(safe)).toBe(safe);
    expect(answered('a =? b')).toBe('a =? b');
  });

  it('decodes encoded-words before storing (AWS answers "=?UTF-8?Q?actually-ascii?=" as actually-ascii)', () => {
    expect(storedMetadataValue('=?UTF-8?Q?actually-ascii?=')).toBe('actually-ascii');
    expect(storedMetadataValue('=?UTF-8?B?YWJj?=')).toBe('abc');
    expect(answered('=?UTF-8?Q?actually-ascii?=')).toBe('actually-ascii');
    expect(storedMetadataValue('=?ISO-8859-1?Q?caf=E9?=')).toBe(utf8Bytes('café'));
    expect(storedMetadataValue('x =?UTF-8?Q?=C3=A9?= =?UTF-8?Q?t=C3=A9?= y')).toBe(utf8Bytes('x été y'));
  });

  it('answers non-ASCII text as one Q encoded-word with AWS safe characters', () => {
    // AWS answers for these two values (LocalStack test_user_metadata_rfc2047_encoded, AWS-validated).
    expect(answered('=?UTF-8?Q?test=5F=E2=80=94=5Ffile%E2%80%94=5F=C3=A9=5F2=3F.pdf?=')).toBe('=?UTF-8?Q?test=5F=E2=80=94=5Ffile%E2%80%94=5F=C3=A9=5F2=3F.pdf?=');
    expect(answered(utf8Bytes('ÄMÄZÕÑ S3'))).toBe('=?UTF-8?Q?=C3=84M=C3=84Z=C3=95=C3=91_S3?=');
    expect(answered(utf8Bytes('test_—_file%E2%80%94_é_2?.pdf'))).toBe('=?UTF-8?Q?test=5F=E2=80=94=5Ffile%E2%80%94=5F=C3=A9=5F2=3F.pdf?=');
    expect(answered(utf8Bytes('a=b é'))).toBe('=?UTF-8?Q?a=3Db_=C3=A9?=');
  });

  it('answers control characters and U+FFFD as one B encoded-word', () => {
    expect(answered('=?UTF-8?B?AAECAw==?=')).toBe('=?UTF-8?B?AAECAw==?=');
    const replacement = '\uFFFD'.repeat(7);
    expect(answered(utf8Bytes(replacement))).toBe(`=?UTF-8?B?${Buffer.from(replacement).toString('base64')}?=`);
  });

  it('reads raw bytes as UTF-8 when valid, else as latin1 (Node clients send latin1)', () => {
    expect(storedMetadataValue(utf8Bytes('é'))).toBe(utf8Bytes('é'));
    expect(storedMetadataValue('\u00e9')).toBe(utf8Bytes('é'));
    expect(answered('\u00e9')).toBe('=?UTF-8?Q?=C3=A9?=');
  });

  it('decodes the answer back to the text with a standard RFC 2047 decoder', async () => {
    const { default: libmime } = await import('libmime');
    for (const text of ['naïve café', 'emoji 👑 ok', '日本語', 'tab\tand_underscore=equals?', '\u0001\u0002']) {
      expect(libmime.decodeWords(answered(utf8Bytes(text))), text).toBe(text);
    }
  });
});
