// Bucket naming rules ("General purpose bucket naming rules", Amazon S3 user guide) and key
// limits (UTF-8, at most 1,024 bytes). Keys are opaque strings: '../' is just characters.
import { keyLengthMaxBytes } from '../util/limits.js';
import { s3Error } from './errors.js';

const bucketPattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const ipPattern = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const reservedPrefixes = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const reservedSuffixes = ['-s3alias', '--ol-s3', '.mrap', '--x-s3'];

/** Throws InvalidBucketName unless `name` follows the general purpose bucket naming rules. */
export function checkBucketName(name: string): void {
  const bad =
    !bucketPattern.test(name) ||
    name.includes('..') ||
    ipPattern.test(name) ||
    reservedPrefixes.some((p) => name.startsWith(p)) ||
    reservedSuffixes.some((s) => name.endsWith(s));
  if (bad) throw s3Error('InvalidBucketName', 'The specified bucket is not valid.', { BucketName: name });
}

/** Throws KeyTooLongError past 1,024 UTF-8 bytes. */
export function checkObjectKey(key: string): void {
  if (Buffer.byteLength(key, 'utf8') > keyLengthMaxBytes) throw s3Error('KeyTooLongError');
}
