// DeleteObject and DeleteObjects (AWS API reference). Deleting a missing key succeeds (204);
// DeleteObjects takes at most 1,000 keys and, in quiet mode, reports only errors.
import { deleteObjectsKeysMax } from '../../util/limits.js';
import type { Handler } from '../context.js';
import { s3Error, toS3Error } from '../errors.js';
import { readSmallBody } from '../payload.js';
import { checkVersionId } from '../unsupported-headers.js';
import { parseXmlBody, xmlChildren, xmlDocument, xmlText, type XmlTree } from '../xml.js';

export const deleteObject: Handler = async (ctx) => {
  await ctx.objects.deleteObject(ctx.bucket!, ctx.key!);
  return { status: 204 };
};

/** Per-object conditions of DeleteObjects (AWS: ETag, LastModifiedTime, Size) Tessera does not evaluate yet. */
const conditionElements = ['ETag', 'LastModifiedTime', 'Size'];

/**
 * An entry that asks for what Tessera cannot do fails alone (its own <Error>), never deleting
 * anything else than asked: a version other than "null" (buckets are unversioned:
 * InvalidArgument, as DeleteObject answers) or a conditional delete (NotImplemented).
 */
function refuseUnsupportedEntry(object: XmlTree, versionId: string | undefined): void {
  checkVersionId(versionId);
  const condition = conditionElements.find((name) => object[name] !== undefined);
  if (condition !== undefined) throw s3Error('NotImplemented', `Conditional deletes (${condition}) are not implemented.`);
}

export const deleteObjects: Handler = async (ctx) => {
  await ctx.objects.getBucket(ctx.bucket!);
  const request = parseXmlBody(await readSmallBody(ctx), 'Delete', ['Object']);
  const quiet = xmlText(request, 'Quiet')?.trim().toLowerCase() === 'true';
  const objects = xmlChildren(request, 'Object');
  if (objects.length === 0 || objects.length > deleteObjectsKeysMax) throw s3Error('MalformedXML');
  const deleted: XmlTree[] = [];
  const errors: XmlTree[] = [];
  for (const object of objects) {
    const key = xmlText(object, 'Key');
    if (key === undefined || key === '') throw s3Error('MalformedXML');
    const versionId = xmlText(object, 'VersionId');
    try {
      refuseUnsupportedEntry(object, versionId);
      await ctx.objects.deleteObject(ctx.bucket!, key);
      if (!quiet) deleted.push({ Key: key, ...(versionId ? { VersionId: versionId } : {}) });
    } catch (err) {
      const reply = toS3Error(err);
      if (reply.internal) ctx.log.error({ err, key }, 'DeleteObjects entry failed');
      errors.push({ Key: key, Code: reply.code, Message: reply.message });
    }
  }
  return { status: 200, body: xmlDocument('DeleteResult', { Deleted: deleted, Error: errors }) };
};
