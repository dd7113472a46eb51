// Every error code a layer below the S3 gateway may raise, one list per layer (Garage's per-crate
// error enums, undici's stable codes). TesseraError accepts only these (or, in src/s3, the S3 codes
// of src/s3/errors.ts), and src/s3/errors.ts must map each one: a code added here and not there is a
// compile error, not a 500 at run time. Codes that equal an AWS S3 error code pass through as such.

/** config/: a config file or CLI value that fails its check. */
export const configErrorCodes = ['InvalidConfig'] as const;

/** erasure/: the codec and its kernel. */
export const erasureErrorCodes = [
  'BitrotDetected', 'InsufficientShards', 'InvalidErasureLayout', 'KernelMemoryExhausted', 'KernelNotBuilt', 'ReferenceCodecFailed', 'ShardSizeMismatch',
  'SingularDecodeMatrix',
] as const;

/** placement/: the ring and layout versions (staging, applying and adopting a change). */
export const placementErrorCodes = ['InsufficientNodes', 'InvalidArgument', 'InvalidLayout', 'LayoutNotApplied', 'LayoutTransitionInProgress'] as const;

/** transport/: calls between nodes. */
export const transportErrorCodes = [
  'BadFrame', 'BadRequest', 'CallAborted', 'CallEnded', 'CallTimeout', 'FrameTooLarge', 'InvalidCall', 'InvalidConfig', 'PeerBusy',
  'PeerNotAuthorized', 'PeerUnknown', 'PeerUnreachable', 'QuicEngineError', 'QuicEngineUnavailable', 'RemoteError', 'RequestBodyFailed',
  'TransportClosed', 'UnknownMethod',
] as const;

/** store/: shard files on drives, local or remote. */
export const storeErrorCodes = [
  'BadRequest', 'CallAborted', 'InvalidConfig', 'InvalidDrive', 'InvalidShardId', 'NotSupported', 'ShardNotFound', 'ShardTruncated',
  'ShardWriterClosed', 'StorageIOError', 'UnknownMethod',
] as const;

/** meta/: records in LMDB. */
export const metaErrorCodes = [
  'BucketAlreadyOwnedByYou', 'BucketNotEmpty', 'MetadataStoreFailed', 'MetadataStoreFull', 'NoSuchBucket', 'NoSuchKey', 'NoSuchUpload',
  'PreconditionFailed',
] as const;

/** object/: the object layer's write and read paths (with the codes of the layers it passes on). */
export const objectErrorCodes = [
  'BitrotDetected', 'EntityTooLarge', 'EntityTooSmall', 'InsufficientShards', 'InvalidArgument', 'InvalidPart', 'InvalidPartOrder',
  'NoSuchBucket', 'NoSuchKey', 'NoSuchUpload', 'PreconditionFailed', 'ReadQuorumNotMet', 'RepairDeferred', 'StorageIOError',
  'WriteQuorumNotMet',
] as const;

/** replication/: metadata over the cluster's replicas (quorum reads and writes, the replica server). */
export const replicationErrorCodes = [
  'BadRequest', 'BucketAlreadyOwnedByYou', 'BucketNotEmpty', 'NoSuchBucket', 'ReadQuorumNotMet', 'UnknownMethod', 'WriteQuorumNotMet',
] as const;

/** cluster/: the node's start-up, its admin calls and its call routing. */
export const clusterErrorCodes = ['DataDirLocked', 'InvalidArgument', 'InvalidConfig', 'ListenFailed', 'StorageIOError', 'Unavailable', 'UnknownMethod'] as const;

/** cli/: the `s3d` commands. */
export const cliErrorCodes = ['InvalidArgument', 'InvalidConfig', 'NodeStartFailed'] as const;

export type ConfigErrorCode = (typeof configErrorCodes)[number];
export type ErasureErrorCode = (typeof erasureErrorCodes)[number];
export type PlacementErrorCode = (typeof placementErrorCodes)[number];
export type TransportErrorCode = (typeof transportErrorCodes)[number];
export type StoreErrorCode = (typeof storeErrorCodes)[number];
export type MetaErrorCode = (typeof metaErrorCodes)[number];
export type ObjectErrorCode = (typeof objectErrorCodes)[number];
export type ReplicationErrorCode = (typeof replicationErrorCodes)[number];
export type ClusterErrorCode = (typeof clusterErrorCodes)[number];
export type CliErrorCode = (typeof cliErrorCodes)[number];

/** Any code of the layers below the S3 gateway. */
export type LayerErrorCode =
  | ConfigErrorCode | ErasureErrorCode | PlacementErrorCode | TransportErrorCode | StoreErrorCode | MetaErrorCode | ObjectErrorCode
  | ReplicationErrorCode | ClusterErrorCode | CliErrorCode;

const layerErrorCodes: ReadonlySet<string> = new Set<string>([
  ...configErrorCodes, ...erasureErrorCodes, ...placementErrorCodes, ...transportErrorCodes, ...storeErrorCodes, ...metaErrorCodes,
  ...objectErrorCodes, ...replicationErrorCodes, ...clusterErrorCodes, ...cliErrorCodes,
]);

/** True when `code` (e.g. read off the wire from another node) is a known layer code. */
export function isLayerErrorCode(code: string): code is LayerErrorCode {
  return layerErrorCodes.has(code);
}
