// CopyObject and the copy source shared with UploadPartCopy (AWS API reference):
// x-amz-copy-source "bucket/key" (URL-encoded, optional leading '/', optional ?versionId=null),
// metadata directive COPY (default) or REPLACE, x-amz-copy-source-if-* conditions, and the
// x-amz-checksum-algorithm the copy is to carry.
import type { StoredChecksum } from '../../meta/types.js';
import type { OpenedObject } from '../../object/object-layer.js';
import { putObjectSizeMaxBytes } from '../../util/limits.js';
import { createChecksummer, parseChecksumAlgorithm } from '../checksum.js';
import { checkCopySourceConditions, writeConditionsFrom } from '../conditions.js';
import type { Handler, RequestContext } from '../context.js';
import { s3Error } from '../errors.js';
import { checkObjectKey } from '../names.js';
import { checkVersionId } from '../unsupported-headers.js';
import { isoDate, objectHeadersFrom } from '../object-headers.js';
import { xmlDocument } from '../xml.js';
import { checksumResponseHeaders } from './put-object.js';

/** Parses x-amz-copy-source. Throws InvalidArgument. */
export function parseCopySource(value: string): { bucket: string; key: string } {
  let text = value.trim();
  const question = text.indexOf('?');
  if (question >= 0) {
    checkVersionId(new URLSearchParams(text.slice(question + 1)).get('versionId'));
    text = text.slice(0, question);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    throw s3Error('InvalidArgument', 'Invalid copy source encoding', { ArgumentName: 'x-amz-copy-source' });
  }
  if (decoded.startsWith('/')) decoded = decoded.slice(1);
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw s3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', { ArgumentName: 'x-amz-copy-source' });
  }
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}

/** Opens the copy source and checks its conditions; the caller must release() it. */
export async function openCopySource(ctx: RequestContext): Promise<OpenedObject> {
  const source = parseCopySource(String(ctx.req.headers['x-amz-copy-source']));
  const opened = await ctx.objects.openObject(source.bucket, source.key);
  try {
    checkCopySourceConditions(ctx.req.headers, opened.record);
  } catch (err) {
    opened.release();
    throw err;
  }
  return opened;
}

/**
 * The source's bytes and the checksum the copy keeps: the algorithm asked for with
 * x-amz-checksum-algorithm (computed over the copied bytes unless the source already has that
 * whole-object checksum), else the source's whole-object checksum. A composite checksum describes
 * parts that the copy no longer has, so it is dropped. Throws InvalidRequest for an unknown algorithm.
 */
function copiedBody(ctx: RequestContext, opened: OpenedObject, checksum: StoredChecksum | undefined): { body: AsyncIterable<Buffer>; finish: () => StoredChecksum | undefined } {
  const keptChecksum = checksum?.type === 'FULL_OBJECT' ? checksum : undefined;
  const body = opened.read(0, opened.record.sizeBytes - 1);
  const requested = parseChecksumAlgorithm(ctx.req.headers['x-amz-checksum-algorithm']?.toString(), 'x-amz-checksum-algorithm');
  if (requested === undefined || keptChecksum?.algorithm === requested) return { body, finish: () => keptChecksum };
  const checksummer = createChecksummer(requested);
  async function* summed(): AsyncGenerator<Buffer> {
    for await (const chunk of body) {
      checksummer.update(chunk);
      yield chunk;
    }
  }
  return { body: summed(), finish: () => ({ algorithm: requested, type: 'FULL_OBJECT', value: checksummer.digest().toString('base64') }) };
}

export const copyObject: Handler = async (ctx) => {
  checkObjectKey(ctx.key!);
  const directive = String(ctx.req.headers['x-amz-metadata-directive'] ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw s3Error('InvalidArgument', 'Unknown metadata directive.', { ArgumentName: 'x-amz-metadata-directive', ArgumentValue: directive });
  }
  const opened = await openCopySource(ctx);
  try {
    const source = opened.record;
    // Naming the storage class (STANDARD, the only one) makes a copy in place legal, as on AWS.
    if (source.bucket === ctx.bucket && source.key === ctx.key && directive === 'COPY' && ctx.req.headers['x-amz-storage-class'] === undefined) {
      throw s3Error('InvalidRequest', "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
    }
    const { bucket: _b, key: _k, sizeBytes: _s, etag: _e, lastModifiedMs: _l, layout: _y, parts: _p, multipart: _m, checksum, ...sourceHeaders } = source;
    const headers = directive === 'REPLACE' ? objectHeadersFrom(ctx.req) : sourceHeaders;
    const conditions = writeConditionsFrom(ctx.req.headers);
    const copied = copiedBody(ctx, opened, checksum);
    const record = await ctx.objects.putObject({
      bucket: ctx.bucket!,
      key: ctx.key!,
      headers,
      body: copied.body,
      sizeMaxBytes: putObjectSizeMaxBytes,
      finish: copied.finish,
      ...(conditions ? { conditions } : {}),
    });
    const result = { ETag: `"${record.etag}"`, LastModified: isoDate(record.lastModifiedMs) };
    return { status: 200, headers: checksumResponseHeaders(record.checksum), body: xmlDocument('CopyObjectResult', result) };
  } finally {
    opened.release();
  }
};
