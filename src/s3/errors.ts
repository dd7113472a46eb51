// The one place where error codes become S3 error responses: status and default message per
// code, following "Error responses" / "List of error codes" in the Amazon S3 API reference.
// Lower layers' codes are mapped exhaustively (aliases); anything else thrown is a 500 InternalError.
import type { LayerErrorCode } from '../util/error-codes.js';
import { TesseraError } from '../util/errors.js';

interface S3ErrorSpec {
  status: number;
  message: string;
}

const table = {
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
  // Not in AWS's list (AWS never runs out of space): RFC 4918 section 11.5's status, the code and
  // status MinIO answers for a full backend too. SDKs treat it as a non-retryable server error.
  InsufficientStorage: { status: 507, message: 'The server does not have enough storage to complete the request.' },
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
  NoSuchConfiguration: { status: 404, message: 'The specified configuration does not exist.' },
  NoSuchPublicAccessBlockConfiguration: { status: 404, message: 'The public access block configuration was not found' },
  NoSuchWebsiteConfiguration: { status: 404, message: 'The specified bucket does not have a website configuration' },
  ObjectLockConfigurationNotFoundError: { status: 404, message: 'Object Lock configuration does not exist for this bucket' },
  OwnershipControlsNotFoundError: { status: 404, message: 'The bucket ownership controls were not found' },
  ReplicationConfigurationNotFoundError: { status: 404, message: 'The replication configuration was not found' },
  ServerSideEncryptionConfigurationNotFoundError: { status: 404, message: 'The server side encryption configuration was not found' },
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
} as const satisfies Record<string, S3ErrorSpec>;

/** Every error code the S3 gateway answers with (the keys of the table above). */
export type S3ErrorCode = keyof typeof table;
/** An error raised in the S3 layer: its code is one of the table's. */
export type S3Error = TesseraError<S3ErrorCode>;

interface Alias {
  code: S3ErrorCode;
  /** Send the lower layer's message (true) or the S3 code's default one (false: internal detail). */
  keepMessage: boolean;
}
const internal: Alias = { code: 'InternalError', keepMessage: false };
/** Retryable: too few drives or nodes right now to read a stripe or to make a write durable. */
const unavailable: Alias = { code: 'ServiceUnavailable', keepMessage: true };

/**
 * Every lower-layer code that is not itself an S3 error code, with the S3 code it surfaces as.
 * Exhaustive by type: a code added to src/util/error-codes.ts must be mapped here to compile.
 */
const aliases: Record<Exclude<LayerErrorCode, S3ErrorCode>, Alias> = {
  // Start-up, configuration and programmer errors: never a client's fault.
  InvalidConfig: internal, DataDirLocked: internal, ListenFailed: internal, NodeStartFailed: internal,
  KernelNotBuilt: internal, KernelMemoryExhausted: internal, ReferenceCodecFailed: internal, SingularDecodeMatrix: internal,
  ShardSizeMismatch: internal, InvalidErasureLayout: internal, InvalidLayout: internal, RepairDeferred: internal,
  // A shard that cannot be read or written where the caller could not read or write around it.
  BitrotDetected: internal, ShardNotFound: internal, ShardTruncated: internal, StorageIOError: internal, InvalidShardId: internal,
  ShardWriterClosed: internal, InvalidDrive: internal, NotSupported: internal,
  // Malformed calls between nodes: a bug or a version mismatch between nodes.
  BadRequest: internal, UnknownMethod: internal, InvalidCall: internal, BadFrame: internal, FrameTooLarge: internal, RemoteError: internal,
  CallAborted: internal,
  // The cluster cannot serve this now; clients retry 503s.
  InsufficientShards: unavailable, InsufficientNodes: unavailable, WriteQuorumNotMet: unavailable, ReadQuorumNotMet: unavailable,
  Unavailable: unavailable, LayoutNotApplied: unavailable, LayoutTransitionInProgress: unavailable,
  PeerUnreachable: unavailable, PeerUnknown: unavailable, PeerNotAuthorized: unavailable, CallTimeout: unavailable, CallEnded: unavailable,
  TransportClosed: unavailable, QuicEngineError: unavailable, QuicEngineUnavailable: unavailable,
  PeerBusy: { code: 'SlowDown', keepMessage: false },
  // The client's body failed while it was being forwarded to another node.
  RequestBodyFailed: { code: 'IncompleteBody', keepMessage: false },
  // A full metadata disk: 507, which the AWS SDKs (JS v3, botocore), the aws cli and rclone do
  // not retry, so the client learns at once, with a code that names the cause, what only an
  // operator can fix; a 503 would be retried 3-10 times with backoff and then read as "reduce
  // your request rate". A commit failing otherwise (an I/O error, a stalled commit) may pass:
  // 503, which clients retry. Reads are unaffected either way.
  MetadataStoreFull: { code: 'InsufficientStorage', keepMessage: false },
  MetadataStoreFailed: unavailable,
};

function isS3ErrorCode(code: string): code is S3ErrorCode {
  return Object.hasOwn(table, code);
}

function aliasOf(code: string): Alias | undefined {
  return Object.hasOwn(aliases, code) ? aliases[code as keyof typeof aliases] : undefined;
}

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
    const alias = aliasOf(err.code);
    const code = alias?.code ?? (isS3ErrorCode(err.code) ? err.code : undefined);
    if (code !== undefined) {
      const spec = table[code];
      const message = (alias ? alias.keepMessage : true) && err.message ? err.message : spec.message;
      return { code, status: spec.status, message, details: { ...err.details }, internal: spec.status === 500 };
    }
  }
  const spec = table.InternalError;
  return { code: 'InternalError', status: spec.status, message: spec.message, details: {}, internal: true };
}

/** An S3-coded error from the S3 layer, with the code's default message unless one is given. */
export function s3Error(code: S3ErrorCode, message?: string, details: Record<string, string | number> = {}, options?: { cause?: unknown }): S3Error {
  return new TesseraError<S3ErrorCode>(code, message ?? table[code].message, details, options);
}
