// Error codes are closed lists per layer: a code read off the wire that this build does not know is
// never trusted as a code, and every layer code reaches S3 clients as a documented S3 error.
import { describe, expect, it } from 'vitest';
import { toS3Error } from '../../../src/s3/errors.js';
import { errorFrame, errorFromFrame } from '../../../src/transport/framing.js';
import {
  cliErrorCodes, clusterErrorCodes, configErrorCodes, erasureErrorCodes, metaErrorCodes, objectErrorCodes, placementErrorCodes,
  replicationErrorCodes, storeErrorCodes, transportErrorCodes,
} from '../../../src/util/error-codes.js';
import { TesseraError } from '../../../src/util/errors.js';

describe('layer error codes', () => {
  it('a known code crosses the wire as itself; an unknown one becomes RemoteError with the code in its message', () => {
    const frame = errorFrame(new TesseraError('NoSuchUpload', 'gone', { uploadId: 'u' }));
    if (!('e' in frame)) throw new Error('errorFrame made a reply frame');
    const known = errorFromFrame(frame, 'node-2');
    expect(known).toMatchObject({ code: 'NoSuchUpload', message: 'gone', details: { uploadId: 'u', remoteNode: 'node-2' } });
    const unknown = errorFromFrame({ e: { code: 'FutureThing', message: 'from a newer node' } }, 'node-3');
    expect(unknown).toMatchObject({ code: 'RemoteError', message: 'FutureThing: from a newer node', details: { remoteNode: 'node-3' } });
  });

  it('every layer code maps to an S3 error with a 4xx/5xx status, and none falls through to an unlisted code', () => {
    const all = [
      ...configErrorCodes, ...erasureErrorCodes, ...placementErrorCodes, ...transportErrorCodes, ...storeErrorCodes, ...metaErrorCodes,
      ...objectErrorCodes, ...replicationErrorCodes, ...clusterErrorCodes, ...cliErrorCodes,
    ];
    for (const code of all) {
      const reply = toS3Error(new TesseraError(code, 'x'));
      expect(reply.status, code).toBeGreaterThanOrEqual(400);
      // Only programmer, start-up and shard errors are 500s; a layer code that is itself an S3 code keeps it.
      if (reply.code !== 'InternalError') expect(reply.status, code).toBeLessThan(600);
    }
    expect(toS3Error(new TesseraError('InsufficientNodes', 'x')).status).toBe(503);
    expect(toS3Error(new TesseraError('NoSuchBucket', 'x')).status).toBe(404);
  });
});
