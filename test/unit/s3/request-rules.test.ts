// Ranges (RFC 9110), conditional requests (RFC 7232 order, as GetObject documents), routing
// (path and virtual-host style, operation names) and XML shapes of requests and replies.
import { describe, expect, it } from 'vitest';
import type { ObjectRecord } from '../../../src/meta/types.js';
import { checkCopySourceConditions, checkReadConditions, writeConditionsFrom } from '../../../src/s3/conditions.js';
import { s3Error, toS3Error } from '../../../src/s3/errors.js';
import { TesseraError } from '../../../src/util/errors.js';
import { checkBucketName } from '../../../src/s3/names.js';
import { parseRange } from '../../../src/s3/range.js';
import { operationOf, resolveTarget } from '../../../src/s3/router.js';
import { parseXmlBody, xmlChildren, xmlDocument, xmlText } from '../../../src/s3/xml.js';
import { s3CodeOf } from '../../helpers/error-code.js';


describe('parseRange', () => {
  it('reads the three single-range forms, clamped to the object', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ first: 0, last: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ first: 90, last: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ first: 90, last: 99 });
    expect(parseRange('bytes=-500', 100)).toEqual({ first: 0, last: 99 });
    expect(parseRange('bytes=50-5000', 100)).toEqual({ first: 50, last: 99 });
  });
  it('is unsatisfiable past the end, ignored when malformed or multiple', () => {
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=-0', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-0', 0)).toBe('unsatisfiable');
    expect(parseRange('bytes=9-1', 100)).toBeUndefined();
    expect(parseRange('items=0-1', 100)).toBeUndefined();
    expect(parseRange('bytes=0-1,5-6', 100)).toBeUndefined();
    expect(parseRange(undefined, 100)).toBeUndefined();
  });
  it('reads ranges covering the whole object as ranges (answered 206), not as absent', () => {
    expect(parseRange('bytes=0-', 100)).toEqual({ first: 0, last: 99 });
    expect(parseRange('bytes=0-99', 100)).toEqual({ first: 0, last: 99 });
    expect(parseRange('bytes=0-1000', 100)).toEqual({ first: 0, last: 99 });
    expect(parseRange('bytes=-100', 100)).toEqual({ first: 0, last: 99 });
    expect(parseRange('bytes=-101', 100)).toEqual({ first: 0, last: 99 });
    expect(parseRange('bytes=0-0', 1)).toEqual({ first: 0, last: 0 });
  });
});

describe('conditional requests', () => {
  const modified = Date.parse('2026-01-02T03:04:05.678Z');
  const record = { etag: 'abc', lastModifiedMs: modified } as ObjectRecord;
  const before = new Date(modified - 60_000).toUTCString();
  const same = new Date(modified).toUTCString();
  const after = new Date(modified + 60_000).toUTCString();

  it('If-Match / If-Unmodified-Since fail with 412; If-None-Match / If-Modified-Since with 304', () => {
    expect(s3CodeOf(() => checkReadConditions({ 'if-match': '"abc"' }, record))).toBeUndefined();
    expect(s3CodeOf(() => checkReadConditions({ 'if-match': '"nope", "abc"' }, record))).toBeUndefined();
    expect(s3CodeOf(() => checkReadConditions({ 'if-match': '"nope"' }, record))).toBe('PreconditionFailed');
    expect(s3CodeOf(() => checkReadConditions({ 'if-unmodified-since': before }, record))).toBe('PreconditionFailed');
    expect(s3CodeOf(() => checkReadConditions({ 'if-unmodified-since': same }, record))).toBeUndefined();
    expect(s3CodeOf(() => checkReadConditions({ 'if-none-match': '"abc"' }, record))).toBe('NotModified');
    expect(s3CodeOf(() => checkReadConditions({ 'if-none-match': '*' }, record))).toBe('NotModified');
    expect(s3CodeOf(() => checkReadConditions({ 'if-modified-since': same }, record))).toBe('NotModified');
    expect(s3CodeOf(() => checkReadConditions({ 'if-modified-since': before }, record))).toBeUndefined();
  });

  it('follows the documented precedence between the pairs', () => {
    // If-Match true wins over If-Unmodified-Since false (GetObject API reference).
    expect(s3CodeOf(() => checkReadConditions({ 'if-match': 'abc', 'if-unmodified-since': before }, record))).toBeUndefined();
    // If-None-Match false (matches) with If-Modified-Since true: 304.
    expect(s3CodeOf(() => checkReadConditions({ 'if-none-match': 'abc', 'if-modified-since': before }, record))).toBe('NotModified');
    // If-None-Match not matching wins over If-Modified-Since false.
    expect(s3CodeOf(() => checkReadConditions({ 'if-none-match': 'zzz', 'if-modified-since': after }, record))).toBeUndefined();
  });

  it('copy-source conditions fail with 412 only; write conditions accept only If-None-Match: *', () => {
    expect(s3CodeOf(() => checkCopySourceConditions({ 'x-amz-copy-source-if-none-match': 'abc' }, record))).toBe('PreconditionFailed');
    expect(s3CodeOf(() => checkCopySourceConditions({ 'x-amz-copy-source-if-match': 'abc' }, record))).toBeUndefined();
    expect(writeConditionsFrom({ 'if-none-match': '*' })).toEqual({ ifNoneMatch: '*' });
    expect(writeConditionsFrom({ 'if-match': '"abc"' })).toEqual({ ifMatch: 'abc' });
    expect(writeConditionsFrom({})).toBeUndefined();
    expect(s3CodeOf(() => writeConditionsFrom({ 'if-none-match': '"abc"' }))).toBe('NotImplemented');
  });
});

describe('routing', () => {
  it('resolves path style and virtual-host style', () => {
    expect(resolveTarget('127.0.0.1:8443', '/', ['localhost'])).toMatchObject({ bucket: undefined, key: undefined });
    expect(resolveTarget('127.0.0.1:8443', '/b', ['localhost'])).toMatchObject({ bucket: 'b', key: undefined, virtualHost: false });
    expect(resolveTarget('localhost', '/b/a%20b/..%2Fc', ['localhost'])).toMatchObject({ bucket: 'b', key: 'a b/../c' });
    expect(resolveTarget('photos.s3.example.com:443', '/x/y.jpg', ['s3.example.com'])).toMatchObject({ bucket: 'photos', key: 'x/y.jpg', virtualHost: true });
    expect(resolveTarget('photos.localhost', '/', ['localhost'])).toMatchObject({ bucket: 'photos', key: undefined, virtualHost: true });
    expect(s3CodeOf(() => resolveTarget('localhost', '/b/%E0%A4%A', ['localhost']))).toBe('InvalidURI');
  });

  it('names operations from method, sub-resources and headers', () => {
    const t = (bucket?: string, key?: string) => ({ bucket, key, virtualHost: false });
    const q = (s: string) => new URLSearchParams(s);
    expect(operationOf('GET', t(), q(''), {})).toBe('ListBuckets');
    expect(operationOf('GET', t('b'), q('list-type=2'), {})).toBe('ListObjectsV2');
    expect(operationOf('GET', t('b'), q('versions'), {})).toBe('ListObjectVersions');
    expect(operationOf('GET', t('b'), q('uploads'), {})).toBe('ListMultipartUploads');
    expect(operationOf('POST', t('b'), q('delete'), {})).toBe('DeleteObjects');
    expect(operationOf('PUT', t('b', 'k'), q(''), { 'x-amz-copy-source': '/a/b' })).toBe('CopyObject');
    expect(operationOf('PUT', t('b', 'k'), q('partNumber=1&uploadId=u'), { 'x-amz-copy-source': '/a/b' })).toBe('UploadPartCopy');
    expect(operationOf('POST', t('b', 'k'), q('uploadId=u'), {})).toBe('CompleteMultipartUpload');
    expect(operationOf('DELETE', t('b', 'k'), q('uploadId=u'), {})).toBe('AbortMultipartUpload');
    expect(operationOf('GET', t('b', 'k'), q('tagging'), {})).toBe('UnsupportedObjectResource');
    expect(s3CodeOf(() => operationOf('PATCH', t('b', 'k'), q(''), {}))).toBe('MethodNotAllowed');
  });

  it('names bucket configuration actions; none falls through to ListObjects, CreateBucket or DeleteBucket', () => {
    const t = (bucket?: string) => ({ bucket, key: undefined, virtualHost: false });
    const q = (s: string) => new URLSearchParams(s);
    expect(operationOf('GET', t('b'), q('website'), {})).toBe('GetBucketWebsite');
    expect(operationOf('PUT', t('b'), q('website'), {})).toBe('PutBucketWebsite');
    expect(operationOf('DELETE', t('b'), q('website'), {})).toBe('DeleteBucketWebsite');
    expect(operationOf('GET', t('b'), q('requestPayment'), {})).toBe('GetBucketRequestPayment');
    expect(operationOf('DELETE', t('b'), q('logging'), {})).toBe('UnsupportedBucketResource');
    expect(operationOf('GET', t('b'), q('metrics'), {})).toBe('ListBucketMetricsConfigurations');
    expect(operationOf('GET', t('b'), q('metrics&id=m'), {})).toBe('GetBucketMetricsConfiguration');
    expect(operationOf('DELETE', t('b'), q('metrics&id=m'), {})).toBe('DeleteBucketMetricsConfiguration');
    expect(operationOf('DELETE', t('b'), q('metadataTable'), {})).toBe('UnsupportedBucketResource');
    expect(operationOf('GET', t('b'), q('metadataConfiguration'), {})).toBe('UnsupportedBucketResource');
    expect(operationOf('HEAD', t('b'), q('website'), {})).toBe('HeadBucket');
    expect(operationOf('PUT', t('b'), q('versioning'), {})).toBe('UnsupportedBucketResource');
  });
});

describe('bucket names', () => {
  it('follows the general purpose naming rules', () => {
    for (const good of ['abc', 'my-bucket.2026', 'a'.repeat(63)]) expect(s3CodeOf(() => checkBucketName(good))).toBeUndefined();
    for (const bad of ['ab', 'a'.repeat(64), 'Upper', 'a..b', '-ab', 'ab-', '192.168.5.4', 'xn--ab', 'ab-s3alias', 'a_b']) {
      expect(s3CodeOf(() => checkBucketName(bad))).toBe('InvalidBucketName');
    }
  });
});

describe('XML shapes', () => {
  it('writes namespaced documents with repeated elements and escaped text', () => {
    const xml = xmlDocument('ListBucketResult', {
      Name: 'b',
      IsTruncated: false,
      Contents: [{ Key: 'a&b<c>', Size: 1 }, { Key: 'd', Size: 2 }],
      CommonPrefixes: [],
      NextMarker: undefined,
    });
    expect(xml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        '<Name>b</Name><IsTruncated>false</IsTruncated><Contents><Key>a&amp;b&lt;c&gt;</Key><Size>1</Size></Contents>' +
        '<Contents><Key>d</Key><Size>2</Size></Contents></ListBucketResult>',
    );
    expect(xmlDocument('LocationConstraint', '')).toContain('<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></LocationConstraint>');
  });

  it('reads CompleteMultipartUpload and Delete bodies, with or without namespace', () => {
    const body = parseXmlBody(
      '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><PartNumber>1</PartNumber><ETag>"e1"</ETag></Part></CompleteMultipartUpload>',
      'CompleteMultipartUpload', ['Part'],
    );
    const parts = xmlChildren(body, 'Part');
    expect(parts).toHaveLength(1);
    expect(xmlText(parts[0]!, 'ETag')).toBe('"e1"');
    const del = parseXmlBody('<Delete><Quiet>true</Quiet><Object><Key>a &amp; b</Key></Object><Object><Key>c</Key></Object></Delete>', 'Delete', ['Object']);
    expect(xmlChildren(del, 'Object').map((o) => xmlText(o, 'Key'))).toEqual(['a & b', 'c']);
  });

  it('rejects malformed XML and the wrong root with MalformedXML', () => {
    for (const text of ['', '<Delete><Object>', 'not xml', '<Other/>', '<Delete><Key>a</Delete>']) {
      expect(s3CodeOf(() => parseXmlBody(text, 'Delete', ['Object']))).toBe('MalformedXML');
    }
  });

  it('maps every error to a status: S3 codes keep theirs, internal codes are 500', () => {
    expect(toS3Error(Object.assign(new Error('x'), { code: 'NoSuchKey' }))).toMatchObject({ code: 'InternalError', status: 500 });
    expect(toS3Error(new Error('plain'))).toMatchObject({ code: 'InternalError', status: 500, internal: true });
    expect(toS3Error(new TesseraError('NoSuchKey', 'gone'))).toMatchObject({ code: 'NoSuchKey', status: 404, internal: false });
    expect(toS3Error(s3Error('InvalidRange'))).toMatchObject({ status: 416 });
    expect(toS3Error(new TesseraError('InsufficientNodes', '6 shards need 6 nodes'))).toMatchObject({ code: 'ServiceUnavailable', status: 503 });
    expect(toS3Error(new TesseraError('PeerBusy', 'queue full'))).toMatchObject({ code: 'SlowDown', status: 503 });
    expect(toS3Error(new TesseraError('BitrotDetected', 'block 3'))).toMatchObject({ code: 'InternalError', status: 500 });
    expect(toS3Error(new TesseraError('InsufficientShards', 'only 3 of 6'))).toMatchObject({ code: 'ServiceUnavailable', status: 503, message: 'only 3 of 6' });
    expect(toS3Error(new TesseraError('WriteQuorumNotMet', 'only 3 writable'))).toMatchObject({ code: 'ServiceUnavailable', status: 503 });
  });
});
