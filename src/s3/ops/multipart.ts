// Multipart uploads (AWS API reference: CreateMultipartUpload, UploadPart, UploadPartCopy,
// CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads) and their
// checksums: COMPOSITE (checksum of part checksums, "-N") or FULL_OBJECT (CRCs combined).
import { randomBytes } from 'node:crypto';
import type { ChecksumType, PartRecord, StoredChecksum, UploadRecord } from '../../meta/types.js';
import type { CompletePart } from '../../object/multipart-rules.js';
import { listKeysMax, partNumberMax, partSizeMaxBytes } from '../../util/limits.js';
import {
  checksumHeaderName, compositeChecksum, decodeChecksumValue, defaultChecksumType, fullObjectChecksum,
  parseChecksumAlgorithm, supportsComposite, supportsFullObject,
} from '../checksum.js';
import { writeConditionsFrom } from '../conditions.js';
import type { Handler, RequestContext } from '../context.js';
import { s3Error } from '../errors.js';
import { checkObjectKey } from '../names.js';
import { isoDate, objectHeadersFrom } from '../object-headers.js';
import { readSmallBody, requestPayload } from '../payload.js';
import { parseXmlBody, xmlChildren, xmlDocument, xmlText, type XmlTree } from '../xml.js';
import { parseRange } from '../range.js';
import { openCopySource } from './copy-object.js';
import { checksumResponseHeaders } from './put-object.js';

function checksumTypeOf(ctx: RequestContext, algorithm: UploadRecord['checksumAlgorithm']): ChecksumType | undefined {
  const text = ctx.req.headers['x-amz-checksum-type']?.toString().toUpperCase();
  if (text === undefined) return algorithm ? defaultChecksumType(algorithm) : undefined;
  if (text !== 'COMPOSITE' && text !== 'FULL_OBJECT') {
    throw s3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  }
  if (!algorithm) throw s3Error('InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
  if (text === 'FULL_OBJECT' && !supportsFullObject(algorithm)) {
    throw s3Error('InvalidRequest', `The FULL_OBJECT checksum type cannot be used with the ${algorithm} checksum algorithm.`);
  }
  if (text === 'COMPOSITE' && !supportsComposite(algorithm)) {
    throw s3Error('InvalidRequest', `The COMPOSITE checksum type cannot be used with the ${algorithm} checksum algorithm.`);
  }
  return text;
}

/**
 * A partNumber query value as AWS reads it (UploadPart, GetObject, HeadObject "partNumber"): digits
 * only, leading zeros allowed ("02" is part 2), 1..partNumberMax. Throws InvalidArgument
 * (ArgumentName partNumber, ArgumentValue as sent) for anything else: "", "0", "10001", "-1", "1.0", " 1".
 */
export function parsePartNumber(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > partNumberMax) {
    throw s3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: text });
  }
  return value;
}

function partNumberOf(ctx: RequestContext): number {
  return parsePartNumber(ctx.query.get('partNumber') ?? '');
}

/**
 * A new multipart upload ID: 48 lowercase hex characters (24 random bytes).
 * Hex, not base64url: an ID that starts with '-' is read as an option by the aws cli's argument
 * parser (`--upload-id -x…` fails with "expected one argument"), and 1 in 32 base64url IDs would.
 */
export function newUploadId(): string {
  return randomBytes(24).toString('hex');
}

function uploadIdOf(ctx: RequestContext): string {
  return ctx.query.get('uploadId') ?? '';
}

function ownerTree(ctx: RequestContext): XmlTree {
  return { ID: ctx.settings.owner.id, DisplayName: ctx.settings.owner.displayName };
}

export const createMultipartUpload: Handler = async (ctx) => {
  checkObjectKey(ctx.key!);
  const headers = objectHeadersFrom(ctx.req);
  const checksumAlgorithm = parseChecksumAlgorithm(ctx.req.headers['x-amz-checksum-algorithm']?.toString(), 'x-amz-checksum-algorithm');
  const checksumType = checksumTypeOf(ctx, checksumAlgorithm);
  const uploadId = newUploadId();
  await ctx.objects.createUpload({
    ...headers,
    bucket: ctx.bucket!,
    key: ctx.key!,
    uploadId,
    ...(checksumAlgorithm ? { checksumAlgorithm } : {}),
    ...(checksumType ? { checksumType } : {}),
  });
  const replyHeaders: Record<string, string> = {};
  if (checksumAlgorithm) replyHeaders['x-amz-checksum-algorithm'] = checksumAlgorithm;
  if (checksumType) replyHeaders['x-amz-checksum-type'] = checksumType;
  return {
    status: 200,
    headers: replyHeaders,
    body: xmlDocument('InitiateMultipartUploadResult', { Bucket: ctx.bucket!, Key: ctx.key!, UploadId: uploadId }),
  };
};

export const uploadPart: Handler = async (ctx) => {
  const partNumber = partNumberOf(ctx);
  const upload = await ctx.objects.getUpload(ctx.bucket!, ctx.key!, uploadIdOf(ctx));
  const payload = requestPayload(ctx, upload.checksumAlgorithm);
  const part = await ctx.objects.uploadPart(ctx.bucket!, ctx.key!, upload.uploadId, partNumber, {
    body: payload.body,
    sizeMaxBytes: partSizeMaxBytes,
    finish: payload.finish,
    ...(payload.sizeHintBytes !== undefined ? { sizeHintBytes: payload.sizeHintBytes } : {}),
  });
  const headers: Record<string, string> = { ETag: `"${part.etag}"` };
  if (part.checksum) headers[checksumHeaderName(part.checksum.algorithm)] = part.checksum.value;
  return { status: 200, headers };
};

export const uploadPartCopy: Handler = async (ctx) => {
  const partNumber = partNumberOf(ctx);
  const upload = await ctx.objects.getUpload(ctx.bucket!, ctx.key!, uploadIdOf(ctx));
  const opened = await openCopySource(ctx);
  try {
    const size = opened.record.sizeBytes;
    const rangeHeader = ctx.req.headers['x-amz-copy-source-range']?.toString();
    let first = 0;
    let last = size - 1;
    if (rangeHeader !== undefined) {
      const match = /^bytes=(\d+)-(\d+)$/.exec(rangeHeader.trim());
      const range = match ? parseRange(rangeHeader, size) : undefined;
      if (!match || range === undefined || range === 'unsatisfiable' || Number(match[2]) >= size) {
        throw s3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: rangeHeader });
      }
      first = range.first;
      last = range.last;
    }
    const part = await ctx.objects.uploadPart(ctx.bucket!, ctx.key!, upload.uploadId, partNumber, {
      body: opened.read(first, last),
      sizeMaxBytes: partSizeMaxBytes,
    });
    return { status: 200, body: xmlDocument('CopyPartResult', { ETag: `"${part.etag}"`, LastModified: isoDate(part.lastModifiedMs) }) };
  } finally {
    opened.release();
  }
};

const checksumElements = { CRC32: 'ChecksumCRC32', CRC32C: 'ChecksumCRC32C', CRC64NVME: 'ChecksumCRC64NVME', SHA1: 'ChecksumSHA1', SHA256: 'ChecksumSHA256' } as const;

interface RequestedPart extends CompletePart {
  checksum: Map<string, string>;
}

function parseCompleteBody(text: string): RequestedPart[] {
  const body = parseXmlBody(text, 'CompleteMultipartUpload', ['Part']);
  const parts = xmlChildren(body, 'Part').map((part) => {
    const numberText = xmlText(part, 'PartNumber')?.trim() ?? '';
    const etag = xmlText(part, 'ETag');
    if (!/^\d+$/.test(numberText) || etag === undefined) throw s3Error('MalformedXML');
    const checksum = new Map<string, string>();
    for (const element of Object.values(checksumElements)) {
      const value = xmlText(part, element);
      if (value !== undefined) checksum.set(element, value.trim());
    }
    return { partNumber: Number(numberText), etag, checksum };
  });
  if (parts.length === 0) throw s3Error('MalformedXML');
  return parts;
}

/** The object's checksum from its parts' checksums; checks what the client claimed. */
function multipartChecksum(ctx: RequestContext, requested: RequestedPart[], upload: UploadRecord, parts: PartRecord[]): StoredChecksum | undefined {
  const algorithm = upload.checksumAlgorithm;
  if (!algorithm) return undefined;
  const type = upload.checksumType ?? defaultChecksumType(algorithm);
  const element = checksumElements[algorithm];
  const digests = parts.map((part, i) => {
    if (!part.checksum || part.checksum.algorithm !== algorithm) {
      throw s3Error('InvalidPart', `Part ${part.partNumber} was uploaded without a ${algorithm} checksum.`, { PartNumber: part.partNumber });
    }
    const claimed = requested[i]?.checksum.get(element);
    if (claimed !== undefined && claimed !== part.checksum.value) {
      throw s3Error('InvalidPart', `The ${algorithm} checksum of part ${part.partNumber} does not match.`, { PartNumber: part.partNumber });
    }
    return decodeChecksumValue(algorithm, part.checksum.value);
  });
  const value = type === 'FULL_OBJECT' && supportsFullObject(algorithm)
    ? fullObjectChecksum(algorithm, parts.map((p, i) => ({ digest: digests[i]!, sizeBytes: p.sizeBytes })))
    : compositeChecksum(algorithm, digests);
  const claimedWhole = ctx.req.headers[checksumHeaderName(algorithm)]?.toString();
  if (claimedWhole !== undefined && claimedWhole.replace(/-\d+$/, '') !== value.replace(/-\d+$/, '')) {
    throw s3Error('BadDigest', `The ${algorithm} you specified did not match the calculated checksum.`);
  }
  return { algorithm, type, value };
}

/**
 * CompleteMultipartUpload. A retry of an upload that already completed, with the same part list,
 * gets the same answer (ETag, checksum, Location, Bucket, Key) while the completion is kept
 * (completedUploadKeepMs), even if the object was overwritten or deleted since: it reports what
 * that request did. A different part list gets NoSuchUpload, as do UploadPart, ListParts and
 * AbortMultipartUpload of a completed upload (the upload no longer exists).
 */
export const completeMultipartUpload: Handler = async (ctx) => {
  const uploadId = uploadIdOf(ctx);
  await ctx.objects.requireCompletableUpload(ctx.bucket!, ctx.key!, uploadId);
  const requested = parseCompleteBody(await readSmallBody(ctx));
  const conditions = writeConditionsFrom(ctx.req.headers);
  const completion = await ctx.objects.completeUpload(
    ctx.bucket!, ctx.key!, uploadId, requested,
    (upload, parts) => multipartChecksum(ctx, requested, upload, parts),
    conditions,
  );
  const checksum: XmlTree = {};
  if (completion.checksum) {
    checksum[checksumElements[completion.checksum.algorithm]] = completion.checksum.value;
    checksum.ChecksumType = completion.checksum.type;
  }
  const host = ctx.req.headers.host ?? 'localhost';
  return {
    status: 200,
    headers: checksumResponseHeaders(completion.checksum),
    body: xmlDocument('CompleteMultipartUploadResult', {
      Location: `https://${host}/${ctx.bucket!}/${encodeURIComponent(ctx.key!).replace(/%2F/g, '/')}`,
      Bucket: ctx.bucket!,
      Key: ctx.key!,
      ETag: `"${completion.etag}"`,
      ...checksum,
    }),
  };
};

export const abortMultipartUpload: Handler = async (ctx) => {
  await ctx.objects.abortUpload(ctx.bucket!, ctx.key!, uploadIdOf(ctx));
  return { status: 204 };
};

function boundedInt(ctx: RequestContext, name: string, fallback: number, max: number): number {
  const text = ctx.query.get(name);
  if (text === null) return fallback;
  if (!/^\d+$/.test(text)) throw s3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { ArgumentName: name, ArgumentValue: text });
  return Math.min(Number(text), max);
}

export const listParts: Handler = async (ctx) => {
  const uploadId = uploadIdOf(ctx);
  const upload = await ctx.objects.getUpload(ctx.bucket!, ctx.key!, uploadId);
  const marker = boundedInt(ctx, 'part-number-marker', 0, partNumberMax);
  const maxParts = boundedInt(ctx, 'max-parts', listKeysMax, listKeysMax);
  const page = await ctx.objects.listParts(ctx.bucket!, ctx.key!, uploadId, marker, maxParts);
  return {
    status: 200,
    body: xmlDocument('ListPartsResult', {
      Bucket: ctx.bucket!,
      Key: ctx.key!,
      UploadId: uploadId,
      Initiator: ownerTree(ctx),
      Owner: ownerTree(ctx),
      StorageClass: 'STANDARD',
      PartNumberMarker: marker,
      NextPartNumberMarker: page.nextPartNumberMarker,
      MaxParts: maxParts,
      IsTruncated: page.isTruncated,
      ChecksumAlgorithm: upload.checksumAlgorithm,
      ChecksumType: upload.checksumType,
      Part: page.parts.map((p) => ({
        PartNumber: p.partNumber,
        LastModified: isoDate(p.lastModifiedMs),
        ETag: `"${p.etag}"`,
        Size: p.sizeBytes,
        ...(p.checksum ? { [checksumElements[p.checksum.algorithm]]: p.checksum.value } : {}),
      })),
    }),
  };
};

export const listMultipartUploads: Handler = async (ctx) => {
  await ctx.objects.getBucket(ctx.bucket!);
  const maxUploads = boundedInt(ctx, 'max-uploads', listKeysMax, listKeysMax);
  const query = {
    prefix: ctx.query.get('prefix') ?? '',
    delimiter: ctx.query.get('delimiter') ?? '',
    keyMarker: ctx.query.get('key-marker') ?? '',
    uploadIdMarker: ctx.query.get('upload-id-marker') ?? '',
    maxUploads,
  };
  const page = await ctx.objects.listUploads(ctx.bucket!, query);
  const encode = ctx.query.get('encoding-type') === 'url' ? (v: string) => encodeURIComponent(v).replace(/%2F/g, '/') : (v: string) => v;
  return {
    status: 200,
    body: xmlDocument('ListMultipartUploadsResult', {
      Bucket: ctx.bucket!,
      KeyMarker: encode(query.keyMarker),
      UploadIdMarker: query.uploadIdMarker,
      NextKeyMarker: page.nextKeyMarker !== undefined ? encode(page.nextKeyMarker) : undefined,
      NextUploadIdMarker: page.nextUploadIdMarker,
      Prefix: encode(query.prefix),
      Delimiter: query.delimiter === '' ? undefined : encode(query.delimiter),
      MaxUploads: maxUploads,
      IsTruncated: page.isTruncated,
      EncodingType: ctx.query.get('encoding-type') ?? undefined,
      Upload: page.uploads.map((u) => ({
        Key: encode(u.key),
        UploadId: u.uploadId,
        Initiator: ownerTree(ctx),
        Owner: ownerTree(ctx),
        StorageClass: 'STANDARD',
        Initiated: isoDate(u.initiatedMs),
        ...(u.checksumAlgorithm ? { ChecksumAlgorithm: u.checksumAlgorithm } : {}),
        ...(u.checksumType ? { ChecksumType: u.checksumType } : {}),
      })),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: encode(p) })),
    }),
  };
};
