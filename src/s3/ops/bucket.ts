// Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation,
// GetBucketVersioning, GetBucketAcl (AWS API reference pages of the same names).
import { checkBucketName } from '../names.js';
import { isoDate } from '../object-headers.js';
import { parseXmlBody, xmlDocument, xmlText } from '../xml.js';
import { readSmallBody } from '../payload.js';
import type { Handler, RequestContext } from '../context.js';
import { s3Error } from '../errors.js';

function bucketOf(ctx: RequestContext): string {
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
  await ctx.objects.createBucket(name, location === ctx.settings.region && location === 'us-east-1' ? '' : location);
  return { status: 200, headers: { Location: `/${name}` } };
};

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

export const getBucketAcl: Handler = async (ctx) => {
  await ctx.objects.getBucket(bucketOf(ctx));
  const owner = { ID: ctx.settings.owner.id, DisplayName: ctx.settings.owner.displayName };
  return {
    status: 200,
    body: xmlDocument('AccessControlPolicy', {
      Owner: owner,
      AccessControlList: {
        Grant: {
          Grantee: { '@_xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', '@_xsi:type': 'CanonicalUser', ...owner },
          Permission: 'FULL_CONTROL',
        },
      },
    }),
  };
};

/** Bucket sub-resources Tessera refuses (PUT ?acl, PUT ?versioning, newer configurations): NotImplemented. */
export const unsupportedBucketResource: Handler = async (ctx) => {
  await ctx.objects.getBucket(bucketOf(ctx));
  throw s3Error('NotImplemented', 'This bucket sub-resource is not implemented by Tessera.');
};

export const unsupportedObjectResource: Handler = async () => {
  throw s3Error('NotImplemented', 'This object sub-resource is not implemented by Tessera.');
};
