// The one place where error codes become S3 error responses: status and default message per
// code, following "Error responses" / "List of error codes" in the Amazon S3 API reference.
// Any code not in the table (including programmer errors) becomes 500 InternalError.
import { TesseraError } from '../util/errors.js';

interface S3ErrorSpec {
  status: number;
  message: string;
}

const table: Record<string, S3ErrorSpec> = {
  AccessControlListNotSupported: { status: 400, message: 'The bucket does not allow ACLs' },
  AccessDenied: { status: 403, message: 'Access Denied' },
  AuthorizationHeaderMalformed: { status: 400, message: 'The authorization header is malformed.' },
  AuthorizationQueryParametersError: { status: 400, message: 'Error parsing the X-Amz-Credential parameter.' },
  BadDigest: { status: 400, message: 'The Content-MD5 or checksum value that you specified did not match what the server received.' },
  BucketAlreadyExists: { status: 409, message: 'The requested bucket name is not available.' },
  BucketAlreadyOwnedByYou: { status: 409, message: 'Your previous request to create the named bucket succeeded and you already own it.' },
  BucketNotEmpty: { status: 409, message: 'The bucket you tried to delete is not empty' },
  EntityTooLarge: { status: 400, message: 'Your proposed upload exceeds the maximum allowed object size.' },
  EntityTooSmall: { status: 400, message: 'Your proposed upload is smaller than the minimum allowed object size.' },
  IncompleteBody: { status: 400, message: 'You did not provide the number of bytes specified by the Content-Length HTTP header.' },
  InternalError: { status: 500, message: 'We encountered an internal error. Please try again.' },
  InvalidAccessKeyId: { status: 403, message: 'The AWS access key ID you provided does not exist in our records.' },
  InvalidArgument: { status: 400, message: 'Invalid Argument' },
  InvalidBucketName: { status: 400, message: 'The specified bucket is not valid.' },
  InvalidDigest: { status: 400, message: 'The Content-MD5 you specified is not valid.' },
  InvalidPart: { status: 400, message: 'One or more of the specified parts could not be found.' },
  InvalidPartOrder: { status: 400, message: 'The list of parts was not in ascending order.' },
  InvalidPartNumber: { status: 416, message: 'The requested partnumber is not satisfiable' },
  InvalidStorageClass: { status: 400, message: 'The storage class you specified is not valid' },
  InvalidRange: { status: 416, message: 'The requested range is not satisfiable' },
  InvalidRequest: { status: 400, message: 'Invalid Request' },
  InvalidURI: { status: 400, message: "Couldn't parse the specified URI." },
  KeyTooLongError: { status: 400, message: 'Your key is too long' },
  MalformedACLError: { status: 400, message: 'The XML you provided was not well-formed or did not validate against our published schema' },
  MalformedXML: { status: 400, message: 'The XML you provided was not well-formed or did not validate against our published schema.' },
  MalformedTrailerError: { status: 400, message: 'The request contained trailing data that was not well-formed or did not conform to our published schema.' },
  MaxMessageLengthExceeded: { status: 400, message: 'Your request was too big.' },
  MetadataTooLarge: { status: 400, message: 'Your metadata headers exceed the maximum allowed metadata size.' },
  MethodNotAllowed: { status: 405, message: 'The specified method is not allowed against this resource.' },
  MissingContentLength: { status: 411, message: 'You must provide the Content-Length HTTP header.' },
  MissingSecurityHeader: { status: 400, message: 'Your request is missing a required header.' },
  NoSuchBucket: { status: 404, message: 'The specified bucket does not exist' },
  NoSuchBucketPolicy: { status: 404, message: 'The bucket policy does not exist' },
  NoSuchKey: { status: 404, message: 'The specified key does not exist.' },
  NoSuchLifecycleConfiguration: { status: 404, message: 'The lifecycle configuration does not exist' },
  NoSuchCORSConfiguration: { status: 404, message: 'The CORS configuration does not exist' },
  NoSuchTagSet: { status: 404, message: 'The TagSet does not exist' },
  NoSuchUpload: { status: 404, message: 'The specified upload does not exist.' },
  NotImplemented: { status: 501, message: 'A header you provided implies functionality that is not implemented.' },
  NotModified: { status: 304, message: 'Not Modified' },
  PreconditionFailed: { status: 412, message: 'At least one of the pre-conditions you specified did not hold' },
  RequestHeaderSectionTooLarge: { status: 400, message: 'Your request header section exceeds the maximum allowed size.' },
  RequestTimeTooSkewed: { status: 403, message: 'The difference between the request time and the current time is too large.' },
  RequestTimeout: { status: 400, message: 'Your socket connection to the server was not read from or written to within the timeout period.' },
  ServiceUnavailable: { status: 503, message: 'Please reduce your request rate.' },
  SlowDown: { status: 503, message: 'Please reduce your request rate.' },
  SignatureDoesNotMatch: { status: 403, message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.' },
  UnexpectedContent: { status: 400, message: 'This request does not support content' },
  XAmzContentSHA256Mismatch: { status: 400, message: "The provided 'x-amz-content-sha256' header does not match what was computed." },
};

/** Internal codes of lower layers that surface as a standard S3 code, with their message or the code's default. */
const aliases: Record<string, { code: string; keepMessage: boolean }> = {
  BitrotDetected: { code: 'InternalError', keepMessage: false },
  ShardNotFound: { code: 'InternalError', keepMessage: false },
  ShardTruncated: { code: 'InternalError', keepMessage: false },
  StorageIOError: { code: 'InternalError', keepMessage: false },
  InvalidShardId: { code: 'InternalError', keepMessage: false },
  // Too few drives to read a stripe or to make a write durable: retryable once drives return.
  InsufficientShards: { code: 'ServiceUnavailable', keepMessage: true },
  WriteQuorumNotMet: { code: 'ServiceUnavailable', keepMessage: true },
  ReadQuorumNotMet: { code: 'ServiceUnavailable', keepMessage: true },
};

/** An error ready to send: S3 code, HTTP status, message and extra XML fields. */
export interface S3ErrorReply {
  code: string;
  status: number;
  message: string;
  details: Record<string, string | number>;
  /** True for 500 InternalError: a bug or an I/O failure, logged with its stack. */
  internal: boolean;
}

/** Maps any thrown value to the S3 error reply (unknown errors -> 500 InternalError). */
export function toS3Error(err: unknown): S3ErrorReply {
  if (err instanceof TesseraError) {
    const alias = aliases[err.code];
    const code = alias?.code ?? err.code;
    const spec = table[code];
    if (spec) {
      const message = (alias ? alias.keepMessage : true) && err.message ? err.message : spec.message;
      return { code, status: spec.status, message, details: { ...err.details }, internal: spec.status === 500 };
    }
  }
  const spec = table.InternalError!;
  return { code: 'InternalError', status: spec.status, message: spec.message, details: {}, internal: true };
}

/** Shorthand for throwing an S3-coded error from the S3 layer. */
export function s3Error(code: string, message?: string, details: Record<string, string | number> = {}): TesseraError {
  return new TesseraError(code, message ?? table[code]?.message ?? code, details);
}
