// Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation,
// GetBucketVersioning (AWS API reference pages of the same names). ACLs are in acl.ts.
import { checkBucketName } from '../names.js';
import { isoDate } from '../object-headers.js';
import { parseXmlBody, xmlDocument, xmlText } from '../xml.js';
import { readSmallBody } from '../payload.js';
import type { Handler, RequestContext } from '../context.js';
import { s3Error } from '../errors.js';
import { isTesseraError } from '../../util/errors.js';

/** The bucket the request addresses; InvalidRequest for a service-level request. */
export function bucketOf(ctx: RequestContext): string {
  if (!ctx.bucket) throw s3Error('InvalidRequest', 'A bucket is required');
  return ctx.bucket;
}

export const listBuckets: Handler = async (ctx) => {
  const buckets = await ctx.objects.listBuckets();
  return {
    status: 200,
    body: xmlDocument('ListAllMyBucketsResult', {
      Owner: { ID: ctx.settings.owner.id, DisplayName: ctx.settings.owner.displayName },
      Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: isoDate(b.createdMs), BucketRegion: b.location || ctx.settings.region })) },
    }),
  };
};

export const createBucket: Handler = async (ctx) => {
  const name = bucketOf(ctx);
  checkBucketName(name);
  const body = await readSmallBody(ctx);
  let location = '';
  if (body.trim() !== '') {
    const config = parseXmlBody(body, 'CreateBucketConfiguration', []);
    location = xmlText(config, 'LocationConstraint')?.trim() ?? '';
  }
  try {
    await ctx.objects.createBucket(name, location === ctx.settings.region && location === 'us-east-1' ? '' : location);
  } catch (err) {
    if (!(isTesseraError(err, 'BucketAlreadyOwnedByYou') && await recreatesInUsEast1(ctx, name, location))) throw err;
  }
  return { status: 200, headers: { Location: `/${name}` } };
};

/**
 * True when re-creating a bucket the caller owns answers 200: "For legacy compatibility, if you
 * re-create an existing bucket that you already own in the North Virginia Region, Amazon S3
 * returns 200 OK" (CreateBucket API reference, BucketAlreadyOwnedByYou); 409 in other regions.
 * Here: the server's region is us-east-1, and so are the bucket and the region asked for.
 */
async function recreatesInUsEast1(ctx: RequestContext, name: string, requestedLocation: string): Promise<boolean> {
  const usEast1 = 'us-east-1';
  const existing = await ctx.objects.getBucket(name);
  const regionOf = (location: string): string => location || ctx.settings.region;
  return ctx.settings.region === usEast1 && regionOf(existing.location) === usEast1 && regionOf(requestedLocation) === usEast1;
}

export const headBucket: Handler = async (ctx) => {
  const bucket = await ctx.objects.getBucket(bucketOf(ctx));
  return { status: 200, headers: { 'x-amz-bucket-region': bucket.location || ctx.settings.region } };
};

export const deleteBucket: Handler = async (ctx) => {
  await ctx.objects.deleteBucket(bucketOf(ctx));
  return { status: 204 };
};

export const getBucketLocation: Handler = async (ctx) => {
  const bucket = await ctx.objects.getBucket(bucketOf(ctx));
  // us-east-1 answers an empty LocationConstraint (GetBucketLocation API reference).
  return { status: 200, body: xmlDocument('LocationConstraint', bucket.location) };
};

export const getBucketVersioning: Handler = async (ctx) => {
  await ctx.objects.getBucket(bucketOf(ctx));
  return { status: 200, body: xmlDocument('VersioningConfiguration', {}) };
};

/** Bucket sub-resources Tessera refuses (PUT ?acl, PUT ?versioning, newer configurations): NotImplemented. */
export const unsupportedBucketResource: Handler = async (ctx) => {
  await ctx.objects.getBucket(bucketOf(ctx));
  throw s3Error('NotImplemented', 'This bucket sub-resource is not implemented by Tessera.');
};

export const unsupportedObjectResource: Handler = async () => {
  throw s3Error('NotImplemented', 'This object sub-resource is not implemented by Tessera.');
};
