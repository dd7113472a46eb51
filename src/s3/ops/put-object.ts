// PutObject (AWS API reference): streams the body through the payload verifier into the object
// layer; answers only after the object is durable. Echoes the flexible checksum it stored.
import type { StoredChecksum } from '../../meta/types.js';
import { putObjectSizeMaxBytes } from '../../util/limits.js';
import { checksumHeaderName } from '../checksum.js';
import { writeConditionsFrom } from '../conditions.js';
import type { Handler } from '../context.js';
import { checkObjectKey } from '../names.js';
import { objectHeadersFrom } from '../object-headers.js';
import { requestPayload } from '../payload.js';

/** Response headers that echo a stored checksum. */
export function checksumResponseHeaders(checksum: StoredChecksum | undefined): Record<string, string> {
  if (!checksum) return {};
  return { [checksumHeaderName(checksum.algorithm)]: checksum.value, 'x-amz-checksum-type': checksum.type };
}

export const putObject: Handler = async (ctx) => {
  checkObjectKey(ctx.key!);
  const headers = objectHeadersFrom(ctx.req);
  const conditions = writeConditionsFrom(ctx.req.headers);
  const payload = requestPayload(ctx);
  const record = await ctx.objects.putObject({
    bucket: ctx.bucket!,
    key: ctx.key!,
    headers,
    body: payload.body,
    sizeMaxBytes: putObjectSizeMaxBytes,
    finish: payload.finish,
    ...(payload.sizeHintBytes !== undefined ? { sizeHintBytes: payload.sizeHintBytes } : {}),
    ...(conditions ? { conditions } : {}),
  });
  return { status: 200, headers: { ETag: `"${record.etag}"`, ...checksumResponseHeaders(record.checksum) } };
};
