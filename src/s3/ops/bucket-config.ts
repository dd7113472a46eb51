// Bucket configuration sub-resources (?website, ?encryption, ?logging, ...) that Tessera does not
// store yet. Each read answers what AWS answers for a bucket that has none (an empty document or the
// "not configured" error, per the Get* page of the AWS API reference); each Delete* answers 204 as
// AWS does for a bucket without one; every Put* is NotImplemented until the feature exists.
import { s3Error, type S3ErrorCode } from '../errors.js';
import { xmlDocument, type XmlTree } from '../xml.js';
import type { Handler } from '../context.js';
import { bucketOf } from './bucket.js';

/** What a read of an absent configuration answers: an S3 error code, or a document (root + body). */
type AbsentAnswer = { error: S3ErrorCode } | { document: string; body?: XmlTree };

interface BucketConfigResource {
  /** The query parameter that names the sub-resource, e.g. `website`. */
  subresource: string;
  /** AWS action names of the reads, writes and deletes (undefined: AWS has none). */
  get: string;
  put?: string;
  delete?: string;
  absent: AbsentAnswer;
}

/** Configurations addressed by `?<subresource>&id=<id>`; the bare GET lists them (always empty here). */
interface IdConfigResource {
  subresource: string;
  get: string;
  list: string;
  put: string;
  delete: string;
  /** Root element of the List* answer. */
  listRoot: string;
}

const configResources: readonly BucketConfigResource[] = [
  { subresource: 'accelerate', get: 'GetBucketAccelerateConfiguration', put: 'PutBucketAccelerateConfiguration', absent: { document: 'AccelerateConfiguration' } },
  { subresource: 'cors', get: 'GetBucketCors', put: 'PutBucketCors', delete: 'DeleteBucketCors', absent: { error: 'NoSuchCORSConfiguration' } },
  { subresource: 'encryption', get: 'GetBucketEncryption', put: 'PutBucketEncryption', delete: 'DeleteBucketEncryption', absent: { error: 'ServerSideEncryptionConfigurationNotFoundError' } },
  { subresource: 'lifecycle', get: 'GetBucketLifecycleConfiguration', put: 'PutBucketLifecycleConfiguration', delete: 'DeleteBucketLifecycle', absent: { error: 'NoSuchLifecycleConfiguration' } },
  { subresource: 'logging', get: 'GetBucketLogging', put: 'PutBucketLogging', absent: { document: 'BucketLoggingStatus' } },
  { subresource: 'notification', get: 'GetBucketNotificationConfiguration', put: 'PutBucketNotificationConfiguration', absent: { document: 'NotificationConfiguration' } },
  { subresource: 'object-lock', get: 'GetObjectLockConfiguration', put: 'PutObjectLockConfiguration', absent: { error: 'ObjectLockConfigurationNotFoundError' } },
  { subresource: 'ownershipControls', get: 'GetBucketOwnershipControls', put: 'PutBucketOwnershipControls', delete: 'DeleteBucketOwnershipControls', absent: { error: 'OwnershipControlsNotFoundError' } },
  { subresource: 'policy', get: 'GetBucketPolicy', put: 'PutBucketPolicy', delete: 'DeleteBucketPolicy', absent: { error: 'NoSuchBucketPolicy' } },
  { subresource: 'policyStatus', get: 'GetBucketPolicyStatus', absent: { error: 'NoSuchBucketPolicy' } },
  { subresource: 'publicAccessBlock', get: 'GetPublicAccessBlock', put: 'PutPublicAccessBlock', delete: 'DeletePublicAccessBlock', absent: { error: 'NoSuchPublicAccessBlockConfiguration' } },
  { subresource: 'replication', get: 'GetBucketReplication', put: 'PutBucketReplication', delete: 'DeleteBucketReplication', absent: { error: 'ReplicationConfigurationNotFoundError' } },
  { subresource: 'requestPayment', get: 'GetBucketRequestPayment', put: 'PutBucketRequestPayment', absent: { document: 'RequestPaymentConfiguration', body: { Payer: 'BucketOwner' } } },
  { subresource: 'tagging', get: 'GetBucketTagging', put: 'PutBucketTagging', delete: 'DeleteBucketTagging', absent: { error: 'NoSuchTagSet' } },
  { subresource: 'website', get: 'GetBucketWebsite', put: 'PutBucketWebsite', delete: 'DeleteBucketWebsite', absent: { error: 'NoSuchWebsiteConfiguration' } },
];

const idConfigResources: readonly IdConfigResource[] = [
  { subresource: 'analytics', get: 'GetBucketAnalyticsConfiguration', list: 'ListBucketAnalyticsConfigurations', put: 'PutBucketAnalyticsConfiguration', delete: 'DeleteBucketAnalyticsConfiguration', listRoot: 'ListBucketAnalyticsConfigurationResult' },
  { subresource: 'intelligent-tiering', get: 'GetBucketIntelligentTieringConfiguration', list: 'ListBucketIntelligentTieringConfigurations', put: 'PutBucketIntelligentTieringConfiguration', delete: 'DeleteBucketIntelligentTieringConfiguration', listRoot: 'ListBucketIntelligentTieringConfigurationsOutput' },
  { subresource: 'inventory', get: 'GetBucketInventoryConfiguration', list: 'ListBucketInventoryConfigurations', put: 'PutBucketInventoryConfiguration', delete: 'DeleteBucketInventoryConfiguration', listRoot: 'ListInventoryConfigurationsResult' },
  { subresource: 'metrics', get: 'GetBucketMetricsConfiguration', list: 'ListBucketMetricsConfigurations', put: 'PutBucketMetricsConfiguration', delete: 'DeleteBucketMetricsConfiguration', listRoot: 'ListMetricsConfigurationsResult' },
];

/** Newer bucket sub-resources without a documented "absent" answer: every method is NotImplemented. */
const notImplementedSubresources = ['metadataTable', 'metadataConfiguration', 'abac'];

const notImplementedOperation = 'UnsupportedBucketResource';

/**
 * The S3 action a bucket-level request on a configuration sub-resource names (e.g. `GET ?website`
 * is GetBucketWebsite), `UnsupportedBucketResource` for one Tessera refuses, or undefined when the
 * query names no configuration sub-resource or the method is not GET, PUT or DELETE.
 */
export function bucketConfigOperation(method: string, query: URLSearchParams): string | undefined {
  if (method !== 'GET' && method !== 'PUT' && method !== 'DELETE') return undefined;
  const config = configResources.find((r) => query.has(r.subresource));
  if (config) {
    if (method === 'GET') return config.get;
    if (method === 'PUT' && config.put) return config.put;
    if (method === 'DELETE' && config.delete) return config.delete;
    return notImplementedOperation;
  }
  const byId = idConfigResources.find((r) => query.has(r.subresource));
  if (byId) {
    if (method === 'GET') return query.has('id') ? byId.get : byId.list;
    if (method === 'PUT') return byId.put;
    if (method === 'DELETE') return byId.delete;
    return notImplementedOperation;
  }
  if (notImplementedSubresources.some((name) => query.has(name))) return notImplementedOperation;
  return undefined;
}

function notImplemented(operation: string): Handler {
  return async (ctx) => {
    await ctx.objects.getBucket(bucketOf(ctx));
    throw s3Error('NotImplemented', `${operation} is not implemented by Tessera.`);
  };
}

function readAbsent(answer: AbsentAnswer): Handler {
  return async (ctx) => {
    const bucket = bucketOf(ctx);
    await ctx.objects.getBucket(bucket);
    // AWS names the bucket in these errors (<BucketName>), as for NoSuchBucketPolicy.
    if ('error' in answer) throw s3Error(answer.error, undefined, { BucketName: bucket });
    return { status: 200, body: xmlDocument(answer.document, answer.body ?? {}) };
  };
}

const deleteAbsent: Handler = async (ctx) => {
  await ctx.objects.getBucket(bucketOf(ctx));
  return { status: 204 };
};

/** One configuration of an id-addressed kind: `id` is required and none exists (NoSuchConfiguration). */
const noSuchConfiguration: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  await ctx.objects.getBucket(bucket);
  const id = ctx.query.get('id');
  if (id === null || id === '') throw s3Error('InvalidArgument', 'Missing required parameter: id', { ArgumentName: 'id' });
  throw s3Error('NoSuchConfiguration', undefined, { BucketName: bucket });
};

function listEmpty(root: string): Handler {
  return async (ctx) => {
    await ctx.objects.getBucket(bucketOf(ctx));
    return { status: 200, body: xmlDocument(root, { IsTruncated: false }) };
  };
}

function buildHandlers(): Record<string, Handler> {
  const table: Record<string, Handler> = {};
  for (const r of configResources) {
    table[r.get] = readAbsent(r.absent);
    if (r.put) table[r.put] = notImplemented(r.put);
    if (r.delete) table[r.delete] = deleteAbsent;
  }
  for (const r of idConfigResources) {
    table[r.get] = noSuchConfiguration;
    table[r.list] = listEmpty(r.listRoot);
    table[r.put] = notImplemented(r.put);
    table[r.delete] = noSuchConfiguration;
  }
  return table;
}

/** Handlers by action name for every operation bucketConfigOperation names (except UnsupportedBucketResource). */
export const bucketConfigHandlers: Readonly<Record<string, Handler>> = buildHandlers();
