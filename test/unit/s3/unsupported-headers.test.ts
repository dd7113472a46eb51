// The request-header classifier: each header asking for a feature Tessera lacks is refused with
// its agreed code, per operation; the headers that ask for today's behaviour pass.
import { describe, expect, it } from 'vitest';
import { toS3Error } from '../../../src/s3/errors.js';
import { checkOwnerOnlyPolicy } from '../../../src/s3/ops/acl.js';
import { checkRequestHeaders } from '../../../src/s3/unsupported-headers.js';
import { s3CodeOf } from '../../helpers/error-code.js';

const ownerId = 'a'.repeat(64);

function refusal(operation: string, headers: Record<string, string>, query = '', bucket: string | undefined = 'b'): { code: string; status: number; details: Record<string, string | number> } | undefined {
  try {
    checkRequestHeaders({ operation, headers, query: new URLSearchParams(query), bucket, ownerId });
    return undefined;
  } catch (err) {
    const reply = toS3Error(err);
    return { code: reply.code, status: reply.status, details: reply.details };
  }
}

function codeOf(operation: string, headers: Record<string, string>, query = ''): string | undefined {
  return refusal(operation, headers, query)?.code;
}

const objectWrites = ['PutObject', 'CopyObject', 'CreateMultipartUpload'];
const everyOperation = [...objectWrites, 'UploadPart', 'UploadPartCopy', 'GetObject', 'HeadObject', 'CreateBucket', 'DeleteObject', 'DeleteObjects', 'ListObjectsV2', 'CompleteMultipartUpload'];

describe('checkRequestHeaders', () => {
  it('passes plain requests of every operation', () => {
    for (const op of everyOperation) expect(codeOf(op, { 'content-type': 'text/plain', 'x-amz-meta-a': 'b' }), op).toBeUndefined();
  });

  it('refuses SSE-C (also the copy-source forms) on any request with 501 NotImplemented', () => {
    const names = [
      'x-amz-server-side-encryption-customer-algorithm', 'x-amz-server-side-encryption-customer-key', 'x-amz-server-side-encryption-customer-key-md5',
      'x-amz-copy-source-server-side-encryption-customer-algorithm', 'x-amz-copy-source-server-side-encryption-customer-key',
      'x-amz-copy-source-server-side-encryption-customer-key-md5',
    ];
    for (const op of everyOperation) {
      for (const name of names) {
        const reply = refusal(op, { [name]: 'AES256' });
        expect(reply, `${op} ${name}`).toMatchObject({ code: 'NotImplemented', status: 501, details: { Header: name } });
      }
    }
  });

  it('refuses SSE-S3, SSE-KMS and DSSE with 501; an unknown algorithm is 400 InvalidArgument', () => {
    for (const op of [...objectWrites, 'GetObject', 'UploadPart']) {
      for (const algorithm of ['AES256', 'aws:kms', 'aws:kms:dsse']) {
        expect(refusal(op, { 'x-amz-server-side-encryption': algorithm }), `${op} ${algorithm}`).toMatchObject({ code: 'NotImplemented', status: 501 });
      }
      for (const name of ['x-amz-server-side-encryption-aws-kms-key-id', 'x-amz-server-side-encryption-context', 'x-amz-server-side-encryption-bucket-key-enabled']) {
        expect(codeOf(op, { [name]: 'x' }), `${op} ${name}`).toBe('NotImplemented');
      }
    }
    expect(refusal('PutObject', { 'x-amz-server-side-encryption': 'rot13' })).toMatchObject({ code: 'InvalidArgument', status: 400, details: { ArgumentName: 'x-amz-server-side-encryption' } });
  });

  it('refuses object lock headers on object writes with 400 InvalidRequest; CreateBucket with lock enabled is 501', () => {
    for (const op of objectWrites) {
      for (const name of ['x-amz-object-lock-mode', 'x-amz-object-lock-retain-until-date', 'x-amz-object-lock-legal-hold']) {
        expect(refusal(op, { [name]: 'GOVERNANCE' }), `${op} ${name}`).toMatchObject({ code: 'InvalidRequest', status: 400 });
      }
    }
    expect(refusal('CreateBucket', { 'x-amz-bucket-object-lock-enabled': 'true' })).toMatchObject({ code: 'NotImplemented', status: 501 });
    expect(codeOf('CreateBucket', { 'x-amz-bucket-object-lock-enabled': 'True' })).toBe('NotImplemented');
    expect(codeOf('CreateBucket', { 'x-amz-bucket-object-lock-enabled': 'false' })).toBeUndefined();
    expect(codeOf('CreateBucket', { 'x-amz-bucket-object-lock-enabled': 'maybe' })).toBe('InvalidArgument');
  });

  it('keeps ACL private and bucket-owner-full-control; refuses other canned ACLs and every grant header', () => {
    for (const op of [...objectWrites, 'CreateBucket', 'PutObjectAcl', 'PutBucketAcl']) {
      expect(codeOf(op, { 'x-amz-acl': 'private' }), op).toBeUndefined();
      expect(codeOf(op, { 'x-amz-acl': 'bucket-owner-full-control' }), op).toBeUndefined();
      for (const acl of ['public-read', 'public-read-write', 'authenticated-read', 'aws-exec-read', 'bucket-owner-read', 'log-delivery-write']) {
        expect(refusal(op, { 'x-amz-acl': acl }), `${op} ${acl}`).toMatchObject({ code: 'AccessControlListNotSupported', status: 400 });
      }
      for (const name of ['x-amz-grant-read', 'x-amz-grant-write', 'x-amz-grant-read-acp', 'x-amz-grant-write-acp', 'x-amz-grant-full-control']) {
        expect(codeOf(op, { [name]: `id="${ownerId}"` }), `${op} ${name}`).toBe('AccessControlListNotSupported');
      }
      expect(refusal(op, { 'x-amz-acl': 'fake-acl' }), op).toMatchObject({ code: 'InvalidArgument', details: { ArgumentName: 'x-amz-acl', ArgumentValue: 'fake-acl' } });
      expect(codeOf(op, { 'x-amz-acl': 'private', 'x-amz-grant-read': 'id="x"' }), op).toBe('InvalidRequest');
    }
    // Operations that take no ACL ignore the header (AWS does too).
    expect(codeOf('GetObject', { 'x-amz-acl': 'public-read' })).toBeUndefined();
  });

  it('refuses tagging with 501, unless empty; checks the tagging directive', () => {
    for (const op of objectWrites) {
      expect(refusal(op, { 'x-amz-tagging': 'a=b' }), op).toMatchObject({ code: 'NotImplemented', status: 501, details: { Header: 'x-amz-tagging' } });
      expect(codeOf(op, { 'x-amz-tagging': '' }), op).toBeUndefined();
    }
    expect(codeOf('CopyObject', { 'x-amz-tagging-directive': 'REPLACE', 'x-amz-tagging': 'a=b' })).toBe('NotImplemented');
    expect(codeOf('CopyObject', { 'x-amz-tagging-directive': 'REPLACE' })).toBeUndefined();
    expect(codeOf('CopyObject', { 'x-amz-tagging-directive': 'COPY' })).toBeUndefined();
    expect(codeOf('CopyObject', { 'x-amz-tagging-directive': 'MERGE' })).toBe('InvalidArgument');
  });

  it('accepts storage class STANDARD only, case-sensitively, with StorageClassRequested', () => {
    for (const op of objectWrites) {
      expect(codeOf(op, { 'x-amz-storage-class': 'STANDARD' }), op).toBeUndefined();
      for (const storageClass of ['standard', 'STANDARD_IA', 'GLACIER', 'REDUCED_REDUNDANCY', 'DEEP_ARCHIVE', 'FakeClass', '']) {
        expect(refusal(op, { 'x-amz-storage-class': storageClass }), `${op} ${storageClass}`).toMatchObject({
          code: 'InvalidStorageClass', status: 400, details: { StorageClassRequested: storageClass },
        });
      }
    }
  });

  it('refuses website redirects and appends with 501', () => {
    for (const op of objectWrites) expect(codeOf(op, { 'x-amz-website-redirect-location': '/other' }), op).toBe('NotImplemented');
    expect(codeOf('PutObject', { 'x-amz-write-offset-bytes': '0' })).toBe('NotImplemented');
  });

  it('checks x-amz-expected-bucket-owner (and the copy source owner) against the owner ID', () => {
    for (const op of everyOperation) {
      expect(codeOf(op, { 'x-amz-expected-bucket-owner': ownerId }), op).toBeUndefined();
      expect(refusal(op, { 'x-amz-expected-bucket-owner': '123456789012' }), op).toMatchObject({ code: 'AccessDenied', status: 403 });
    }
    expect(codeOf('CopyObject', { 'x-amz-source-expected-bucket-owner': '123456789012' })).toBe('AccessDenied');
    expect(codeOf('UploadPartCopy', { 'x-amz-source-expected-bucket-owner': '123456789012' })).toBe('AccessDenied');
    expect(codeOf('UploadPartCopy', { 'x-amz-source-expected-bucket-owner': ownerId })).toBeUndefined();
  });

  it('refuses conditional deletes and governance bypass as AWS does on buckets without them', () => {
    for (const name of ['if-match', 'x-amz-if-match-size', 'x-amz-if-match-last-modified-time']) {
      expect(refusal('DeleteObject', { [name]: '1' }), name).toMatchObject({ code: 'NotImplemented', status: 501 });
    }
    for (const op of ['DeleteObject', 'DeleteObjects']) {
      expect(refusal(op, { 'x-amz-bypass-governance-retention': 'true' }), op).toMatchObject({ code: 'InvalidArgument', details: { ArgumentName: 'x-amz-bypass-governance-retention' } });
      expect(codeOf(op, { 'x-amz-mfa': '123 456', 'x-amz-request-payer': 'requester' }), op).toBeUndefined();
    }
  });

  it('refuses a versionId other than "null" where it would name a version', () => {
    for (const op of ['GetObject', 'HeadObject', 'DeleteObject', 'GetObjectAcl', 'PutObjectAcl']) {
      expect(codeOf(op, {}, 'versionId=null'), op).toBeUndefined();
      expect(refusal(op, {}, 'versionId=3HL4kqtJlcpXroDTDmJ'), op).toMatchObject({ code: 'InvalidArgument', details: { ArgumentName: 'versionId' } });
    }
  });

  it('checks CreateBucket object ownership', () => {
    expect(codeOf('CreateBucket', { 'x-amz-object-ownership': 'BucketOwnerEnforced' })).toBeUndefined();
    expect(codeOf('CreateBucket', { 'x-amz-object-ownership': 'ObjectWriter' })).toBe('NotImplemented');
    expect(codeOf('CreateBucket', { 'x-amz-object-ownership': 'BucketOwnerPreferred' })).toBe('NotImplemented');
    expect(codeOf('CreateBucket', { 'x-amz-object-ownership': 'RandomValue' })).toBe('InvalidArgument');
  });
});

describe('checkOwnerOnlyPolicy (PUT ?acl bodies)', () => {
  const grant = (grantee: string, permission = 'FULL_CONTROL'): string =>
    `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ${grantee}</Grantee><Permission>${permission}</Permission></Grant>`;
  const policy = (...grants: string[]): string =>
    `<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>${ownerId}</ID></Owner><AccessControlList>${grants.join('')}</AccessControlList></AccessControlPolicy>`;
  const owner = `xsi:type="CanonicalUser"><ID>${ownerId}</ID><DisplayName>tessera</DisplayName>`;

  const policyCode = (body: string): string | undefined => s3CodeOf(() => checkOwnerOnlyPolicy(body, ownerId));

  it("accepts the owner's own FULL_CONTROL grant (what GetBucketAcl answers)", () => {
    expect(policyCode(policy(grant(owner)))).toBeUndefined();
  });

  it('refuses any other grant with AccessControlListNotSupported', () => {
    expect(policyCode(policy(grant(owner), grant('xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>', 'READ')))).toBe('AccessControlListNotSupported');
    expect(policyCode(policy(grant('xsi:type="CanonicalUser"><ID>someone-else</ID>')))).toBe('AccessControlListNotSupported');
    expect(policyCode(policy(grant(owner, 'READ')))).toBe('AccessControlListNotSupported');
    expect(policyCode(policy(grant('xsi:type="AmazonCustomerByEmail"><EmailAddress>a@example.com</EmailAddress>')))).toBe('AccessControlListNotSupported');
    expect(policyCode(policy())).toBe('AccessControlListNotSupported');
  });

  it('answers MalformedACLError for what is not an AccessControlPolicy', () => {
    expect(policyCode('<AccessControlPolicy><Owner/></AccessControlPolicy>')).toBe('MalformedACLError');
    expect(policyCode('<Other/>')).toBe('MalformedACLError');
    expect(policyCode('not xml')).toBe('MalformedACLError');
    expect(policyCode(policy(grant(owner, 'WRONG-PERMISSION')))).toBe('MalformedACLError');
  });
});
