// GetObject and HeadObject (AWS API reference): conditional headers, one byte range (206/416),
// partNumber for multipart objects, checksums with x-amz-checksum-mode: ENABLED (whole object only).
import type { ObjectRecord } from '../../meta/types.js';
import type { OpenedObject } from '../../object/object-layer.js';
import { partNumberMax } from '../../util/limits.js';
import { checkReadConditions } from '../conditions.js';
import type { Handler, RequestContext, S3Response } from '../context.js';
import { s3Error } from '../errors.js';
import { objectResponseHeaders } from '../object-headers.js';
import { parseRange, type ByteRange } from '../range.js';

/** Response header overrides allowed on GET (GetObject "response-*" query parameters). */
const responseOverrides: Record<string, string> = {
  'response-content-type': 'Content-Type',
  'response-content-language': 'Content-Language',
  'response-expires': 'Expires',
  'response-cache-control': 'Cache-Control',
  'response-content-disposition': 'Content-Disposition',
  'response-content-encoding': 'Content-Encoding',
};

interface Selection {
  range: ByteRange | undefined;
  partsCount: number | undefined;
}

function partRange(record: ObjectRecord, partNumber: number): ByteRange {
  if (!record.multipart) {
    if (partNumber !== 1) throw s3Error('InvalidPartNumber', undefined, { ActualPartCount: 1 });
    return { first: 0, last: record.sizeBytes - 1 };
  }
  const part = record.parts[partNumber - 1];
  if (!part) throw s3Error('InvalidPartNumber', undefined, { ActualPartCount: record.parts.length });
  let first = 0;
  for (let i = 0; i < partNumber - 1; i++) first += record.parts[i]!.sizeBytes;
  return { first, last: first + part.sizeBytes - 1 };
}

function select(ctx: RequestContext, record: ObjectRecord): Selection {
  const partParam = ctx.query.get('partNumber');
  const rangeHeader = ctx.req.headers.range;
  if (partParam !== null) {
    const partNumber = Number(partParam);
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > partNumberMax) {
      throw s3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: partParam });
    }
    if (rangeHeader !== undefined) throw s3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
    return { range: partRange(record, partNumber), partsCount: record.multipart ? record.parts.length : 1 };
  }
  const range = parseRange(rangeHeader, record.sizeBytes);
  if (range === 'unsatisfiable') {
    throw s3Error('InvalidRange', 'The requested range is not satisfiable', { RangeRequested: rangeHeader ?? '', ActualObjectSize: record.sizeBytes });
  }
  return { range, partsCount: undefined };
}

function headersFor(ctx: RequestContext, record: ObjectRecord, selection: Selection): { status: number; headers: Record<string, string | number> } {
  const whole = selection.range === undefined || (selection.range.first === 0 && selection.range.last === record.sizeBytes - 1 && selection.partsCount === undefined);
  const withChecksum = ctx.req.headers['x-amz-checksum-mode']?.toString().toUpperCase() === 'ENABLED' && whole;
  const headers = objectResponseHeaders(record, withChecksum);
  for (const [param, header] of Object.entries(responseOverrides)) {
    const value = ctx.query.get(param);
    if (value !== null) headers[header] = value;
  }
  if (selection.partsCount !== undefined) headers['x-amz-mp-parts-count'] = selection.partsCount;
  // Any satisfiable Range is answered 206 with Content-Range, even one covering the whole object
  // (bytes=0-, a suffix longer than the object): AWS does, and clients check Content-Range.
  if (selection.range) {
    const { first, last } = selection.range;
    headers['Content-Range'] = `bytes ${first}-${last}/${record.sizeBytes}`;
    headers['Content-Length'] = last - first + 1;
    return { status: 206, headers };
  }
  headers['Content-Length'] = record.sizeBytes;
  return { status: 200, headers };
}

/** Reads the first chunk before answering, so a bad first block is a clean error response. */
async function primedBody(opened: OpenedObject, range: ByteRange): Promise<AsyncIterable<Buffer>> {
  const iterator = opened.read(range.first, range.last);
  const first = await iterator.next();
  return (async function* () {
    if (first.done) return;
    yield first.value;
    yield* iterator;
  })();
}

export const getObject: Handler = async (ctx) => {
  const opened = await ctx.objects.openObject(ctx.bucket!, ctx.key!);
  try {
    const record = opened.record;
    checkReadConditions(ctx.req.headers, record);
    const selection = select(ctx, record);
    const { status, headers } = headersFor(ctx, record, selection);
    const range = selection.range ?? { first: 0, last: record.sizeBytes - 1 };
    const response: S3Response = { status, headers, done: opened.release };
    if (range.last >= range.first) response.body = await primedBody(opened, range);
    return response;
  } catch (err) {
    opened.release();
    throw err;
  }
};

export const headObject: Handler = async (ctx) => {
  const record = await ctx.objects.headObject(ctx.bucket!, ctx.key!);
  checkReadConditions(ctx.req.headers, record);
  const selection = select(ctx, record);
  return headersFor(ctx, record, selection);
};
