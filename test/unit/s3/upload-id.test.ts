// Multipart upload IDs are safe to pass on a command line: the aws cli reads a leading dash as an option.

import { describe, expect, it } from 'vitest';
import { newUploadId } from '../../../src/s3/ops/multipart.js';

describe('newUploadId', () => {
  it('is 48 hex characters, so no ID starts with a dash that the aws cli would read as an option', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 4000; i++) {
      const id = newUploadId();
      expect(id).toMatch(/^[0-9a-f]{48}$/);
      ids.add(id);
    }
    expect(ids.size).toBe(4000);
  });
});
