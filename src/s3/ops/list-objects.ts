// ListObjects (v1), ListObjectsV2 and ListObjectVersions (AWS API reference). Buckets are
// unversioned, so ListObjectVersions lists current objects with VersionId "null".
// encoding-type=url percent-encodes keys, prefixes, delimiter and markers in the reply.
import type { ListObjectsPage, ObjectRecord } from '../../meta/types.js';
import { listKeysMax } from '../../util/limits.js';
import type { Handler, RequestContext } from '../context.js';
import { s3Error } from '../errors.js';
import { isoDate } from '../object-headers.js';
import { xmlDocument, type XmlTree } from '../xml.js';

function maxKeysOf(ctx: RequestContext, param: string): number {
  const text = ctx.query.get(param);
  if (text === null) return listKeysMax;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw s3Error('InvalidArgument', `Provided ${param} not an integer or within integer range`, { ArgumentName: param, ArgumentValue: text });
  }
  return Math.min(value, listKeysMax);
}

function encoderOf(ctx: RequestContext): (value: string) => string {
  const type = ctx.query.get('encoding-type');
  if (type === null) return (v) => v;
  if (type !== 'url') throw s3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type' });
  return (v) => encodeURIComponent(v).replace(/%2F/g, '/');
}

function owner(ctx: RequestContext): XmlTree {
  return { ID: ctx.settings.owner.id, DisplayName: ctx.settings.owner.displayName };
}

function list(ctx: RequestContext, startAfter: string, maxKeys: number): Promise<ListObjectsPage> {
  return ctx.objects.listObjects(ctx.bucket!, {
    prefix: ctx.query.get('prefix') ?? '',
    delimiter: ctx.query.get('delimiter') ?? '',
    startAfter,
    maxKeys,
  });
}

function contents(ctx: RequestContext, objects: ObjectRecord[], encode: (v: string) => string, withOwner: boolean): XmlTree[] {
  return objects.map((o) => ({
    Key: encode(o.key),
    LastModified: isoDate(o.lastModifiedMs),
    ETag: `"${o.etag}"`,
    ...(o.checksum ? { ChecksumAlgorithm: o.checksum.algorithm, ChecksumType: o.checksum.type } : {}),
    Size: o.sizeBytes,
    StorageClass: 'STANDARD',
    ...(withOwner ? { Owner: owner(ctx) } : {}),
  }));
}

function common(prefixes: string[], encode: (v: string) => string): XmlTree[] {
  return prefixes.map((p) => ({ Prefix: encode(p) }));
}

function optional(value: string | null, encode: (v: string) => string): string | undefined {
  return value === null || value === '' ? undefined : encode(value);
}

export const listObjects: Handler = async (ctx) => {
  const encode = encoderOf(ctx);
  const maxKeys = maxKeysOf(ctx, 'max-keys');
  const marker = ctx.query.get('marker') ?? '';
  const page = await list(ctx, marker, maxKeys);
  const delimiter = ctx.query.get('delimiter');
  return {
    status: 200,
    body: xmlDocument('ListBucketResult', {
      Name: ctx.bucket!,
      Prefix: encode(ctx.query.get('prefix') ?? ''),
      Marker: encode(marker),
      MaxKeys: maxKeys,
      Delimiter: optional(delimiter, encode),
      IsTruncated: page.isTruncated,
      NextMarker: page.isTruncated && delimiter ? encode(page.nextStartAfter ?? '') : undefined,
      EncodingType: ctx.query.get('encoding-type') ?? undefined,
      Contents: contents(ctx, page.objects, encode, true),
      CommonPrefixes: common(page.commonPrefixes, encode),
    }),
  };
};

function decodeToken(token: string): string {
  const decoded = Buffer.from(token, 'base64url').toString('utf8');
  if (!decoded.startsWith('t1:')) throw s3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
  return decoded.slice(3);
}

function encodeToken(startAfter: string): string {
  return Buffer.from(`t1:${startAfter}`, 'utf8').toString('base64url');
}

export const listObjectsV2: Handler = async (ctx) => {
  const encode = encoderOf(ctx);
  const maxKeys = maxKeysOf(ctx, 'max-keys');
  const token = ctx.query.get('continuation-token');
  const startAfterParam = ctx.query.get('start-after');
  const startAfter = token !== null ? decodeToken(token) : (startAfterParam ?? '');
  const page = await list(ctx, startAfter, maxKeys);
  return {
    status: 200,
    body: xmlDocument('ListBucketResult', {
      Name: ctx.bucket!,
      Prefix: encode(ctx.query.get('prefix') ?? ''),
      Delimiter: optional(ctx.query.get('delimiter'), encode),
      MaxKeys: maxKeys,
      KeyCount: page.objects.length + page.commonPrefixes.length,
      IsTruncated: page.isTruncated,
      ContinuationToken: token ?? undefined,
      NextContinuationToken: page.isTruncated && page.nextStartAfter !== undefined ? encodeToken(page.nextStartAfter) : undefined,
      StartAfter: optional(startAfterParam, encode),
      EncodingType: ctx.query.get('encoding-type') ?? undefined,
      Contents: contents(ctx, page.objects, encode, ctx.query.get('fetch-owner') === 'true'),
      CommonPrefixes: common(page.commonPrefixes, encode),
    }),
  };
};

export const listObjectVersions: Handler = async (ctx) => {
  const encode = encoderOf(ctx);
  const maxKeys = maxKeysOf(ctx, 'max-keys');
  const keyMarker = ctx.query.get('key-marker') ?? '';
  const page = await list(ctx, keyMarker, maxKeys);
  return {
    status: 200,
    body: xmlDocument('ListVersionsResult', {
      Name: ctx.bucket!,
      Prefix: encode(ctx.query.get('prefix') ?? ''),
      KeyMarker: encode(keyMarker),
      VersionIdMarker: ctx.query.get('version-id-marker') ?? '',
      NextKeyMarker: page.isTruncated ? encode(page.nextStartAfter ?? '') : undefined,
      NextVersionIdMarker: page.isTruncated ? 'null' : undefined,
      MaxKeys: maxKeys,
      Delimiter: optional(ctx.query.get('delimiter'), encode),
      IsTruncated: page.isTruncated,
      EncodingType: ctx.query.get('encoding-type') ?? undefined,
      Version: page.objects.map((o) => ({
        Key: encode(o.key),
        VersionId: 'null',
        IsLatest: true,
        LastModified: isoDate(o.lastModifiedMs),
        ETag: `"${o.etag}"`,
        Size: o.sizeBytes,
        StorageClass: 'STANDARD',
        Owner: owner(ctx),
      })),
      CommonPrefixes: common(page.commonPrefixes, encode),
    }),
  };
};
