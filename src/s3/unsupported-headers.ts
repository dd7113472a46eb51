// Every request header (and the versionId parameter) of the S3 operations Tessera serves, sorted
// into honoured, refused and harmless, and checked once per request after authentication and
// before the handler: a request that asks for a feature Tessera does not have is refused with the
// error AWS (or an S3 store without the feature) gives, before anything is stored. Buckets are
// what AWS calls unversioned, ObjectOwnership BucketOwnerEnforced, without Object Lock,
// encryption configuration, website hosting, tags or Requester Pays.
//
// Sources: the AWS API reference pages PutObject, CopyObject, CreateMultipartUpload, UploadPart,
// UploadPartCopy, GetObject, HeadObject, CreateBucket, DeleteObject, DeleteObjects, PutObjectAcl,
// PutBucketAcl, "Controlling ownership of objects and disabling ACLs" (AccessControlListNotSupported)
// and AWS's answers recorded by LocalStack's AWS-validated snapshot tests where a page is silent.
//
// | header (operations)                                            | verdict                                            |
// |----------------------------------------------------------------|----------------------------------------------------|
// | Content-Type, -Encoding, -Disposition, -Language, Cache-Control, Expires, x-amz-meta-* (Put, Copy REPLACE, CreateMPU) | honoured: stored (object-headers.ts) |
// | Content-Length, Content-MD5, x-amz-content-sha256, x-amz-decoded-content-length, x-amz-trailer, x-amz-sdk-checksum-algorithm, x-amz-checksum-* (Put, UploadPart, DeleteObjects) | honoured: verified (payload.ts) |
// | x-amz-checksum-algorithm, x-amz-checksum-type (CreateMPU; algorithm also on Copy) | honoured |
// | If-Match, If-None-Match: * (Put, Copy, CompleteMPU)             | honoured: conditional writes (conditions.ts)       |
// | If-Match, If-None-Match, If-(Un)Modified-Since, Range, partNumber, response-*, x-amz-checksum-mode (Get, Head) | honoured |
// | x-amz-copy-source, -range, -if-* ; x-amz-metadata-directive (Copy, UploadPartCopy) | honoured                  |
// | x-amz-storage-class: STANDARD (Put, Copy, CreateMPU)             | honoured: the only class (a copy in place may name it) |
// | x-amz-storage-class: anything else (case-sensitive, as AWS)     | 400 InvalidStorageClass                            |
// | x-amz-acl: private, bucket-owner-full-control (Put, Copy, CreateMPU, CreateBucket, PUT ?acl) | honoured: today's only ACL |
// | x-amz-acl: another canned ACL                                  | 400 AccessControlListNotSupported                  |
// | x-amz-acl: not a canned ACL                                    | 400 InvalidArgument                                |
// | x-amz-grant-read, -write, -read-acp, -write-acp, -full-control  | 400 AccessControlListNotSupported                  |
// | x-amz-server-side-encryption-customer-algorithm, -key, -key-MD5, and the x-amz-copy-source-… forms (any) | 501 NotImplemented |
// | x-amz-server-side-encryption AES256, aws:kms, aws:kms:dsse; -aws-kms-key-id, -context, -bucket-key-enabled (any) | 501 NotImplemented (other values 400 InvalidArgument) |
// | x-amz-object-lock-mode, -retain-until-date, -legal-hold (Put, Copy, CreateMPU) | 400 InvalidRequest "Bucket is missing Object Lock Configuration" |
// | x-amz-bucket-object-lock-enabled: true (CreateBucket)            | 501 NotImplemented ("false" is today's behaviour)  |
// | x-amz-object-ownership: BucketOwnerEnforced (CreateBucket)       | honoured; ObjectWriter, BucketOwnerPreferred 501; others 400 InvalidArgument |
// | x-amz-tagging non-empty (Put, Copy, CreateMPU)                   | 501 NotImplemented (empty: no tags, as today)      |
// | x-amz-tagging-directive COPY, REPLACE (Copy)                     | harmless: objects have no tags to copy or replace; other values 400 InvalidArgument |
// | x-amz-website-redirect-location (Put, Copy, CreateMPU)           | 501 NotImplemented: no website hosting stores or serves it |
// | x-amz-write-offset-bytes (Put)                                   | 501 NotImplemented: appends exist only in directory buckets |
// | If-Match, x-amz-if-match-last-modified-time, x-amz-if-match-size (DeleteObject) | 501 NotImplemented: no conditional delete yet |
// | x-amz-bypass-governance-retention (DeleteObject, DeleteObjects)  | 400 InvalidArgument, as AWS answers on a bucket without Object Lock |
// | x-amz-expected-bucket-owner (any bucket request), x-amz-source-expected-bucket-owner (Copy, UploadPartCopy) | honoured: 403 AccessDenied unless the owner's canonical ID |
// | ?versionId other than "null" (Get, Head, DeleteObject, object ?acl) | 400 InvalidArgument "Invalid version id specified" (unversioned) |
// | x-amz-request-payer (any)                                       | harmless: no bucket is Requester Pays, so the payer's consent changes nothing |
// | x-amz-mfa (DeleteObject, DeleteObjects)                         | harmless: MFA delete exists only on versioned buckets with MFA delete on |
// | Expect, Date, x-amz-date, Authorization, x-amz-security-token, Host, User-Agent, Transfer-Encoding | transport and auth (server.ts, auth/) |
import type { IncomingHttpHeaders } from 'node:http';
import { headerString } from './auth/canonical.js';
import { s3Error } from './errors.js';

/** What the check needs of a request: its operation name (router.ts), headers and query. */
export interface HeaderCheckInput {
  operation: string;
  headers: IncomingHttpHeaders;
  query: URLSearchParams;
  /** The bucket addressed (undefined for ListBuckets). */
  bucket: string | undefined;
  /** Canonical ID of the owner of every bucket (GatewaySettings.owner.id). */
  ownerId: string;
}

const objectWrites: readonly string[] = ['PutObject', 'CopyObject', 'CreateMultipartUpload'];
const aclWrites: readonly string[] = [...objectWrites, 'CreateBucket', 'PutObjectAcl', 'PutBucketAcl'];
const versionedReads: readonly string[] = ['GetObject', 'HeadObject', 'DeleteObject', 'GetObjectAcl', 'PutObjectAcl'];

const sseCustomerHeaders = [
  'x-amz-server-side-encryption-customer-algorithm',
  'x-amz-server-side-encryption-customer-key',
  'x-amz-server-side-encryption-customer-key-md5',
  'x-amz-copy-source-server-side-encryption-customer-algorithm',
  'x-amz-copy-source-server-side-encryption-customer-key',
  'x-amz-copy-source-server-side-encryption-customer-key-md5',
];
const sseAlgorithms = ['AES256', 'aws:kms', 'aws:kms:dsse'];
const sseKmsHeaders = [
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-server-side-encryption-context',
  'x-amz-server-side-encryption-bucket-key-enabled',
];
const objectLockHeaders = ['x-amz-object-lock-mode', 'x-amz-object-lock-retain-until-date', 'x-amz-object-lock-legal-hold'];
const grantHeaders = ['x-amz-grant-read', 'x-amz-grant-write', 'x-amz-grant-read-acp', 'x-amz-grant-write-acp', 'x-amz-grant-full-control'];
/** Canned ACLs of the S3 API (x-amz-acl values), and the two that mean what Tessera does today. */
const cannedAcls = ['private', 'public-read', 'public-read-write', 'authenticated-read', 'aws-exec-read', 'bucket-owner-read', 'bucket-owner-full-control', 'log-delivery-write'];
const ownerOnlyAcls = ['private', 'bucket-owner-full-control'];
const objectOwnerships = ['BucketOwnerEnforced', 'BucketOwnerPreferred', 'ObjectWriter'];

function notImplemented(header: string, message: string): never {
  throw s3Error('NotImplemented', message, { Header: header });
}

function checkExpectedOwner(input: HeaderCheckInput): void {
  const names = ['x-amz-expected-bucket-owner'];
  if (input.operation === 'CopyObject' || input.operation === 'UploadPartCopy') names.push('x-amz-source-expected-bucket-owner');
  for (const name of names) {
    const expected = headerString(input.headers, name);
    if (expected !== undefined && input.bucket !== undefined && expected.trim() !== input.ownerId) throw s3Error('AccessDenied');
  }
}

function checkEncryption(headers: IncomingHttpHeaders): void {
  for (const name of sseCustomerHeaders) {
    if (headerString(headers, name) !== undefined) notImplemented(name, 'Server-side encryption with customer-provided keys (SSE-C) is not implemented.');
  }
  const sse = headerString(headers, 'x-amz-server-side-encryption');
  if (sse !== undefined) {
    if (!sseAlgorithms.includes(sse.trim())) {
      throw s3Error('InvalidArgument', 'The encryption method specified is not supported', { ArgumentName: 'x-amz-server-side-encryption', ArgumentValue: sse });
    }
    notImplemented('x-amz-server-side-encryption', `Server-side encryption (${sse.trim()}) is not implemented.`);
  }
  for (const name of sseKmsHeaders) {
    if (headerString(headers, name) !== undefined) notImplemented(name, 'Server-side encryption with AWS KMS keys is not implemented.');
  }
}

function checkAcl(headers: IncomingHttpHeaders): void {
  const acl = headerString(headers, 'x-amz-acl');
  const grants = grantHeaders.filter((name) => headerString(headers, name) !== undefined);
  if (acl !== undefined && grants.length > 0) throw s3Error('InvalidRequest', 'Specifying both Canned ACLs and Header Grants is not allowed');
  if (acl !== undefined && !cannedAcls.includes(acl.trim())) throw s3Error('InvalidArgument', undefined, { ArgumentName: 'x-amz-acl', ArgumentValue: acl });
  if ((acl !== undefined && !ownerOnlyAcls.includes(acl.trim())) || grants.length > 0) throw s3Error('AccessControlListNotSupported');
}

function checkObjectWrite(input: HeaderCheckInput): void {
  const { headers } = input;
  if (objectLockHeaders.some((name) => headerString(headers, name) !== undefined)) throw s3Error('InvalidRequest', 'Bucket is missing Object Lock Configuration');
  const tagging = headerString(headers, 'x-amz-tagging');
  if (tagging !== undefined && tagging.trim() !== '') notImplemented('x-amz-tagging', 'Object tagging is not implemented.');
  const storageClass = headerString(headers, 'x-amz-storage-class');
  if (storageClass !== undefined && storageClass !== 'STANDARD') {
    throw s3Error('InvalidStorageClass', undefined, { StorageClassRequested: storageClass });
  }
  if (headerString(headers, 'x-amz-website-redirect-location') !== undefined) {
    notImplemented('x-amz-website-redirect-location', 'Website redirects are not implemented.');
  }
  if (input.operation === 'PutObject' && headerString(headers, 'x-amz-write-offset-bytes') !== undefined) {
    notImplemented('x-amz-write-offset-bytes', 'Appending to an object (x-amz-write-offset-bytes) is not implemented.');
  }
  const taggingDirective = headerString(headers, 'x-amz-tagging-directive');
  if (input.operation === 'CopyObject' && taggingDirective !== undefined && !['COPY', 'REPLACE'].includes(taggingDirective.trim())) {
    throw s3Error('InvalidArgument', 'Unknown tagging directive.', { ArgumentName: 'x-amz-tagging-directive', ArgumentValue: taggingDirective });
  }
}

function checkCreateBucket(headers: IncomingHttpHeaders): void {
  const lock = headerString(headers, 'x-amz-bucket-object-lock-enabled');
  if (lock !== undefined) {
    const flag = lock.trim().toLowerCase();
    if (flag === 'true') notImplemented('x-amz-bucket-object-lock-enabled', 'Object Lock is not implemented.');
    if (flag !== 'false') throw s3Error('InvalidArgument', undefined, { ArgumentName: 'x-amz-bucket-object-lock-enabled', ArgumentValue: lock });
  }
  const ownership = headerString(headers, 'x-amz-object-ownership');
  if (ownership !== undefined) {
    if (!objectOwnerships.includes(ownership)) {
      throw s3Error('InvalidArgument', `Invalid x-amz-object-ownership header: ${ownership}`, { ArgumentName: 'x-amz-object-ownership' });
    }
    if (ownership !== 'BucketOwnerEnforced') notImplemented('x-amz-object-ownership', 'ACLs are not implemented: every bucket is BucketOwnerEnforced.');
  }
}

function checkDelete(input: HeaderCheckInput): void {
  const { headers } = input;
  if (input.operation === 'DeleteObject') {
    for (const name of ['x-amz-if-match-last-modified-time', 'x-amz-if-match-size', 'if-match']) {
      if (headerString(headers, name) !== undefined) notImplemented(name === 'if-match' ? 'If-Match' : name, 'A header you provided implies functionality that is not implemented');
    }
  }
  if (headerString(headers, 'x-amz-bypass-governance-retention') !== undefined) {
    throw s3Error('InvalidArgument', 'x-amz-bypass-governance-retention is only applicable to Object Lock enabled buckets.', { ArgumentName: 'x-amz-bypass-governance-retention' });
  }
}

/**
 * Refuses a version id other than "null" (every bucket is unversioned; null or undefined: none
 * given): InvalidArgument "Invalid version id specified", with ArgumentName versionId and the
 * value, as AWS answers on an unversioned bucket. Used for ?versionId, x-amz-copy-source's
 * ?versionId and DeleteObjects' <VersionId>.
 */
export function checkVersionId(versionId: string | null | undefined): void {
  if (versionId !== null && versionId !== undefined && versionId !== 'null') {
    throw s3Error('InvalidArgument', 'Invalid version id specified', { ArgumentName: 'versionId', ArgumentValue: versionId });
  }
}

/**
 * Refuses a request that asks for something Tessera does not do (see the table above); returns
 * when every header is honoured or harmless. Call after authentication, before the handler.
 * Throws AccessDenied (403), NotImplemented (501), InvalidRequest, InvalidArgument,
 * InvalidStorageClass or AccessControlListNotSupported (400).
 */
export function checkRequestHeaders(input: HeaderCheckInput): void {
  const op = input.operation;
  checkExpectedOwner(input);
  checkEncryption(input.headers);
  if (aclWrites.includes(op)) checkAcl(input.headers);
  if (objectWrites.includes(op)) checkObjectWrite(input);
  if (op === 'CreateBucket') checkCreateBucket(input.headers);
  if (op === 'DeleteObject' || op === 'DeleteObjects') checkDelete(input);
  if (versionedReads.includes(op)) checkVersionId(input.query.get('versionId'));
}
