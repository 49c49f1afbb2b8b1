//! S3: the agent binary in the fleet's bucket, the presigned URL the agents download it through,
//! and emptying the bucket (every version) before the stack is deleted.

use std::path::Path;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::AwsError;

const SERVICE: &str = "s3";

/// An S3 client.
#[derive(Clone, Debug)]
pub struct S3 {
    client: Client,
}

impl S3 {
    /// A client over `config`.
    pub fn new(config: &SdkConfig) -> S3 {
        S3 { client: Client::new(config) }
    }

    /// True when `key` exists in `bucket`.
    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<bool, AwsError> {
        match self.client.head_object().bucket(bucket).key(key).send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
            Err(e) => Err(AwsError::call(SERVICE, "HeadObject", e)),
        }
    }

    /// Upload the file at `path` as `key`.
    pub async fn put_object(&self, bucket: &str, key: &str, path: &Path) -> Result<(), AwsError> {
        let body = ByteStream::from_path(path).await.map_err(|e| AwsError::local(SERVICE, "PutObject", e))?;
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/octet-stream")
            .body(body)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::call(SERVICE, "PutObject", e))
    }

    /// A URL that lets whoever holds it GET `key` for `expires_in`.
    pub async fn presign_get_object(
        &self,
        bucket: &str,
        key: &str,
        expires_in: Duration,
    ) -> Result<String, AwsError> {
        let config =
            PresigningConfig::expires_in(expires_in).map_err(|e| AwsError::local(SERVICE, "GetObject", e))?;
        let request = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| AwsError::call(SERVICE, "GetObject", e))?;
        Ok(request.uri().to_owned())
    }

    /// Delete every object version and delete marker in `bucket`; returns how many. A bucket
    /// that no longer exists counts as empty.
    pub async fn empty_bucket(&self, bucket: &str) -> Result<u64, AwsError> {
        let mut deleted = 0;
        loop {
            let listed = match self.client.list_object_versions().bucket(bucket).max_keys(1000).send().await {
                Ok(l) => l,
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => return Ok(deleted),
                Err(e) => return Err(AwsError::call(SERVICE, "ListObjectVersions", e)),
            };
            let versions = listed.versions.unwrap_or_default().into_iter().map(|v| (v.key, v.version_id));
            let markers =
                listed.delete_markers.unwrap_or_default().into_iter().map(|m| (m.key, m.version_id));
            let objects = versions
                .chain(markers)
                .filter_map(|(key, version)| {
                    let key = key?;
                    ObjectIdentifier::builder().key(key).set_version_id(version).build().ok()
                })
                .collect::<Vec<_>>();
            if objects.is_empty() {
                return Ok(deleted);
            }
            deleted += self.delete_objects(bucket, objects).await?;
        }
    }

    /// Delete every object in the S3 Express One Zone directory bucket `bucket` (which has no
    /// versions: ListObjectsV2, not ListObjectVersions; the SDK opens the session); returns how
    /// many. A bucket that no longer exists counts as empty.
    pub async fn empty_directory_bucket(&self, bucket: &str) -> Result<u64, AwsError> {
        let mut deleted = 0;
        loop {
            let listed = match self.client.list_objects_v2().bucket(bucket).max_keys(1000).send().await {
                Ok(l) => l,
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => return Ok(deleted),
                Err(e) => return Err(AwsError::call(SERVICE, "ListObjectsV2", e)),
            };
            let objects = listed
                .contents
                .unwrap_or_default()
                .into_iter()
                .filter_map(|o| ObjectIdentifier::builder().set_key(o.key).build().ok())
                .collect::<Vec<_>>();
            if objects.is_empty() {
                return Ok(deleted);
            }
            deleted += self.delete_objects(bucket, objects).await?;
        }
    }

    /// DeleteObjects of `objects` (at most 1,000) in `bucket`, quietly; how many, or the first
    /// object S3 could not delete.
    async fn delete_objects(&self, bucket: &str, objects: Vec<ObjectIdentifier>) -> Result<u64, AwsError> {
        let count = objects.len() as u64;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| AwsError::local(SERVICE, "DeleteObjects", e))?;
        let out = self
            .client
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| AwsError::call(SERVICE, "DeleteObjects", e))?;
        if let Some(error) = out.errors.unwrap_or_default().into_iter().next() {
            return Err(AwsError::Call {
                service: SERVICE,
                operation: "DeleteObjects",
                detail: format!(
                    "{} in bucket {bucket}: {}",
                    error.key.unwrap_or_default(),
                    error.message.unwrap_or_default()
                ),
            });
        }
        Ok(count)
    }

    /// True when `bucket` exists (and these credentials may see it).
    pub async fn head_bucket(&self, bucket: &str) -> Result<bool, AwsError> {
        match self.client.head_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(true),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
            Err(e) => Err(AwsError::call(SERVICE, "HeadBucket", e)),
        }
    }
}
