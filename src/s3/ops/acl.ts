// ACL operations (AWS API reference: GetBucketAcl, PutBucketAcl, GetObjectAcl, PutObjectAcl).
// Every bucket behaves as ObjectOwnership BucketOwnerEnforced: the owner has FULL_CONTROL and no
// one else has any grant. A PUT ?acl that asks for exactly that (x-amz-acl private or
// bucket-owner-full-control, or a policy whose grants all give the owner FULL_CONTROL) succeeds and
// changes nothing; any other ACL is refused with AccessControlListNotSupported, as AWS answers on
// such buckets. Canned-ACL and grant headers are checked in unsupported-headers.ts.
import type { Handler, RequestContext } from '../context.js';
import { s3Error } from '../errors.js';
import { readSmallBody } from '../payload.js';
import { isXmlTree, parseXmlBody, xmlChildren, xmlDocument, xmlText, type XmlTree } from '../xml.js';

const permissions = ['FULL_CONTROL', 'WRITE', 'WRITE_ACP', 'READ', 'READ_ACP'];

function malformed(): never {
  throw s3Error('MalformedACLError');
}

/**
 * Checks an AccessControlPolicy body (PutBucketAcl / PutObjectAcl request syntax). Returns when
 * every grant gives `ownerId` FULL_CONTROL. Throws MalformedACLError for a document that is not an
 * AccessControlPolicy, AccessControlListNotSupported for any other grant (or none).
 */
export function checkOwnerOnlyPolicy(body: string, ownerId: string): void {
  let policy: XmlTree;
  try {
    policy = parseXmlBody(body, 'AccessControlPolicy', ['Grant']);
  } catch {
    malformed();
  }
  const list = policy.AccessControlList;
  if (!isXmlTree(list) && list !== '') malformed();
  const grants = isXmlTree(list) ? xmlChildren(list, 'Grant') : [];
  let ownerOnly = grants.length > 0;
  for (const grant of grants) {
    const grantee = grant.Grantee;
    const permission = xmlText(grant, 'Permission')?.trim();
    if (!isXmlTree(grantee) || permission === undefined || !permissions.includes(permission)) malformed();
    const id = xmlText(grantee, 'ID')?.trim();
    const other = grantee.URI !== undefined || grantee.EmailAddress !== undefined;
    if (other || id !== ownerId || permission !== 'FULL_CONTROL') ownerOnly = false;
  }
  if (!ownerOnly) throw s3Error('AccessControlListNotSupported');
}

/** PUT ?acl: a canned ACL header or a policy body, not both, not neither. */
async function checkAclRequest(ctx: RequestContext): Promise<void> {
  const body = await readSmallBody(ctx);
  if (ctx.req.headers['x-amz-acl'] !== undefined) {
    if (body.trim() !== '') throw s3Error('UnexpectedContent');
    return;
  }
  if (body.trim() === '') throw s3Error('MissingSecurityHeader', 'Your request was missing a required header', { MissingHeaderName: 'x-amz-acl' });
  checkOwnerOnlyPolicy(body, ctx.settings.owner.id);
}

/** The only ACL there is: the owner with FULL_CONTROL. */
function ownerPolicy(ctx: RequestContext): string {
  const owner = { ID: ctx.settings.owner.id, DisplayName: ctx.settings.owner.displayName };
  return xmlDocument('AccessControlPolicy', {
    Owner: owner,
    AccessControlList: {
      Grant: {
        Grantee: { '@_xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', '@_xsi:type': 'CanonicalUser', ...owner },
        Permission: 'FULL_CONTROL',
      },
    },
  });
}

export const getBucketAcl: Handler = async (ctx) => {
  await ctx.objects.getBucket(ctx.bucket!);
  return { status: 200, body: ownerPolicy(ctx) };
};

export const putBucketAcl: Handler = async (ctx) => {
  await ctx.objects.getBucket(ctx.bucket!);
  await checkAclRequest(ctx);
  return { status: 200 };
};

export const getObjectAcl: Handler = async (ctx) => {
  await ctx.objects.headObject(ctx.bucket!, ctx.key!);
  return { status: 200, body: ownerPolicy(ctx) };
};

export const putObjectAcl: Handler = async (ctx) => {
  await ctx.objects.headObject(ctx.bucket!, ctx.key!);
  await checkAclRequest(ctx);
  return { status: 200 };
};
