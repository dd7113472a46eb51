// Operation name -> handler (one file per operation group under ops/).
import type { Handler } from './context.js';
import * as acl from './ops/acl.js';
import * as bucket from './ops/bucket.js';
import { bucketConfigHandlers } from './ops/bucket-config.js';
import { copyObject } from './ops/copy-object.js';
import { deleteObject, deleteObjects } from './ops/delete-object.js';
import { getObject, headObject } from './ops/get-object.js';
import { listObjects, listObjectsV2, listObjectVersions } from './ops/list-objects.js';
import * as multipart from './ops/multipart.js';
import { putObject } from './ops/put-object.js';

export const handlers: Readonly<Record<string, Handler>> = {
  ListBuckets: bucket.listBuckets,
  CreateBucket: bucket.createBucket,
  HeadBucket: bucket.headBucket,
  DeleteBucket: bucket.deleteBucket,
  GetBucketLocation: bucket.getBucketLocation,
  GetBucketVersioning: bucket.getBucketVersioning,
  GetBucketAcl: acl.getBucketAcl,
  PutBucketAcl: acl.putBucketAcl,
  GetObjectAcl: acl.getObjectAcl,
  PutObjectAcl: acl.putObjectAcl,
  UnsupportedBucketResource: bucket.unsupportedBucketResource,
  UnsupportedObjectResource: bucket.unsupportedObjectResource,
  ListObjects: listObjects,
  ListObjectsV2: listObjectsV2,
  ListObjectVersions: listObjectVersions,
  DeleteObjects: deleteObjects,
  PutObject: putObject,
  GetObject: getObject,
  HeadObject: headObject,
  DeleteObject: deleteObject,
  CopyObject: copyObject,
  CreateMultipartUpload: multipart.createMultipartUpload,
  UploadPart: multipart.uploadPart,
  UploadPartCopy: multipart.uploadPartCopy,
  CompleteMultipartUpload: multipart.completeMultipartUpload,
  AbortMultipartUpload: multipart.abortMultipartUpload,
  ListParts: multipart.listParts,
  ListMultipartUploads: multipart.listMultipartUploads,
  ...bucketConfigHandlers,
};
