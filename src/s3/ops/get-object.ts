// GetObject and HeadObject (AWS API reference): conditional headers, one byte range (206/416),
// partNumber (a single PUT is one part), checksums with x-amz-checksum-mode: ENABLED.
import type { ObjectRecord } from '../../meta/types.js';
import type { OpenedObject } from '../../object/object-layer.js';
import { checkReadConditions } from '../conditions.js';
import type { Handler, RequestContext, S3Response } from '../context.js';
import { s3Error } from '../errors.js';
import { objectResponseHeaders } from '../object-headers.js';
import { parseRange, type ByteRange } from '../range.js';
import { parsePartNumber } from './multipart.js';

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
  /** x-amz-mp-parts-count: set when a part of a multipart object was asked for. */
  partsCount: number | undefined;
  /** True when the request named a partNumber (the answer is a 206 of that part's bytes). */
  byPart: boolean;
}

/**
 * The partNumber query parameter, read before the key is looked up, as AWS does (GetObject and
 * HeadObject "partNumber": an integer in 1..10,000; leading zeros allowed, "02" is part 2).
 * Undefined when absent. Throws InvalidRequest when a Range header comes with it (whatever either
 * says), InvalidArgument (ArgumentName partNumber, ArgumentValue as sent) for anything else:
 * "", "0", "00", "10001", "-1", "1.0", " 1", "abc".
 */
function partNumberParam(ctx: RequestContext): number | undefined {
  const text = ctx.query.get('partNumber');
  if (text === null) return undefined;
  if (ctx.req.headers.range !== undefined) throw s3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
  return parsePartNumber(text);
}

/** partNumberParam with AWS's order of refusals: a missing bucket (NoSuchBucket) is named first. */
async function requestedPart(ctx: RequestContext): Promise<number | undefined> {
  try {
    return partNumberParam(ctx);
  } catch (err) {
    await ctx.objects.getBucket(ctx.bucket!);
    throw err;
  }
}

/**
 * The bytes of part `partNumber`: of a multipart object its partNumber-th part, with the part count;
 * a single PUT is one part, all of the object, without a count (as AWS answers: 206 with
 * Content-Range, no x-amz-mp-parts-count). A part beyond the object's count: 416 InvalidPartNumber
 * naming PartNumberRequested and ActualPartCount.
 */
function partSelection(record: ObjectRecord, partNumber: number): Selection {
  const count = record.multipart ? record.parts.length : 1;
  if (partNumber > count) throw s3Error('InvalidPartNumber', undefined, { PartNumberRequested: partNumber, ActualPartCount: count });
  if (!record.multipart) return { range: { first: 0, last: record.sizeBytes - 1 }, partsCount: undefined, byPart: true };
  let first = 0;
  for (let i = 0; i < partNumber - 1; i++) first += record.parts[i]!.sizeBytes;
  return { range: { first, last: first + record.parts[partNumber - 1]!.sizeBytes - 1 }, partsCount: count, byPart: true };
}

function select(ctx: RequestContext, record: ObjectRecord, partNumber: number | undefined): Selection {
  if (partNumber !== undefined) return partSelection(record, partNumber);
  const rangeHeader = ctx.req.headers.range;
  const range = parseRange(rangeHeader, record.sizeBytes);
  if (range === 'unsatisfiable') {
    throw s3Error('InvalidRange', 'The requested range is not satisfiable', { RangeRequested: rangeHeader ?? '', ActualObjectSize: record.sizeBytes });
  }
  return { range, partsCount: undefined, byPart: false };
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
  const range = selection.range;
  // Any satisfiable Range is answered 206 with Content-Range, even one covering the whole object
  // (bytes=0-, a suffix longer than the object): AWS does, and clients check Content-Range. An
  // empty part (or a 0-byte object's part 1) has no byte range to name: 200 with no body.
  if (range !== undefined && range.last >= range.first) {
    headers['Content-Range'] = `bytes ${range.first}-${range.last}/${record.sizeBytes}`;
    headers['Content-Length'] = range.last - range.first + 1;
    return { status: 206, headers };
  }
  headers['Content-Length'] = range !== undefined && range.last < range.first ? 0 : record.sizeBytes;
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
  const partNumber = await requestedPart(ctx);
  const opened = await ctx.objects.openObject(ctx.bucket!, ctx.key!);
  try {
    const record = opened.record;
    checkReadConditions(ctx.req.headers, record);
    const selection = select(ctx, record, partNumber);
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
  const partNumber = await requestedPart(ctx);
  const record = await ctx.objects.headObject(ctx.bucket!, ctx.key!);
  checkReadConditions(ctx.req.headers, record);
  const selection = select(ctx, record, partNumber);
  return headersFor(ctx, record, selection);
};
