// Package policy generates the least-privilege IAM policy for exactly the S3
// calls icevault makes, and explains it statement by statement
// (`icevault policy [--explain]`).
//
// icevault's S3 calls (internal/store/s3store) and the permission each needs:
//
//	PutObject (DEEP_ARCHIVE, If-None-Match: *, x-amz-checksum-sha256) s3:PutObject
//	HeadObject, GetObject                                             s3:GetObject
//	ListObjectsV2 (with RestoreStatus) under the prefix               s3:ListBucket on the bucket
//	RestoreObject (only with Options.Restore)                         s3:RestoreObject
//	GetBucketLocation (setup, doctor)                                 s3:GetBucketLocation
//	STS GetCallerIdentity (doctor)                                    none
//
// Design decisions:
//
//   - Allows are confined to one bucket and one prefix (default "icevault/",
//     the config package's default): objects by ARN "bucket/prefix*",
//     listing by a StringLike condition on s3:prefix. Denies cover the whole
//     bucket: whatever else this identity is granted, it can never write a
//     non-DEEP_ARCHIVE object or delete anything there.
//   - DEEP_ARCHIVE is enforced three times, because PutObject, CopyObject,
//     CreateMultipartUpload, UploadPart and CompleteMultipartUpload are all
//     s3:PutObject, and s3:x-amz-storage-class is present only on the first
//     three (DESIGN §4):
//     the Allow requires StringEquals DEEP_ARCHIVE (false when the key is
//     absent); one Deny refuses a storage class that is present and not
//     DEEP_ARCHIVE (StringNotEquals plus Null=false: negated operators are
//     true on an absent key, so without the Null test it would hit every
//     UploadPart and CompleteMultipartUpload); another Deny refuses an
//     object-creating request (s3:ObjectCreationOperation true: Put, Copy,
//     Complete) with no storage class.
//   - Multipart uploads are therefore impossible with this policy, on
//     purpose: IAM cannot tell a header-less CreateMultipartUpload (a
//     STANDARD upload) from an UploadPart, nor a CompleteMultipartUpload from
//     a header-less PutObject, so no policy can allow DEEP_ARCHIVE multipart
//     uploads and refuse STANDARD ones. icevault never uses multipart
//     (objects stay ≤ 5 GB). The seed guide's single Deny (Bool
//     ObjectCreationOperation + StringNotEquals storage class) also denies
//     every CompleteMultipartUpload, but lets a wrong-class
//     CreateMultipartUpload through, so STANDARD parts are uploaded and billed
//     before the upload fails at the last step; Explain says so.
//   - No delete of any kind is allowed, and the calls that could destroy
//     history through another grant (DeleteObject, DeleteObjectVersion,
//     BypassGovernanceRetention, DeleteBucket, Put/DeleteBucketPolicy,
//     PutBucketVersioning, PutLifecycleConfiguration) are explicitly denied.
//   - Options.CreateOnly denies an object-creating PUT without If-None-Match
//     (Null s3:if-none-match + Bool ObjectCreationOperation), so nothing can
//     be overwritten. Options.TLSOnly denies s3:* on the bucket when
//     aws:SecureTransport is false. Options.RotateKeys lets a static IAM user
//     manage its own access keys (arn:...:user/${aws:username}).
//   - No Principal: the document works as an IAM Identity Center
//     permission-set inline policy, an IAM user/group policy or a customer
//     managed policy. Mind IAM's quotas (Size): a user's inline policies
//     share 2,048 characters, a managed policy has 6,144.
//   - The output is deterministic (fixed statement order, sorted condition
//     maps) and the Sids are stable: they are part of the output format.
//   - Not covered: SSE-KMS default bucket encryption (would need kms:
//     GenerateDataKey/Decrypt; icevault encrypts client-side, so SSE-S3 is
//     enough) and S3 HeadBucket (needs an unconditioned s3:ListBucket).
//
// Every variant is checked in the tests against @cloud-copilot/iam-simulate,
// an offline IAM policy evaluator (testdata/iamsim).
package policy
