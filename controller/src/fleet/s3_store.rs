//! The embedded endpoint's store: s3s-fs's directory of buckets, with the bodies of GetObject read
//! in large chunks. s3s-fs streams a body in 4 KiB reads of a tokio file, each a hop to the
//! blocking thread pool: 256 hops for a 1 MiB object, which made the local endpoint, not S3 or the
//! agent, the limit on large objects. Here the same file is read `CHUNK` bytes a hop. Everything
//! else, headers, ranges and errors included, is s3s-fs's own.

use std::path::{Component, Path, PathBuf};

use s3s::dto::{self, Range, StreamingBlob};
use s3s::{S3, S3Request, S3Response, S3Result};
use s3s_fs::FileSystem;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Bytes read from an object's file per hop to the blocking pool (tokio reads at most 2 MiB).
const CHUNK: usize = 1 << 20;

/// s3s-fs over `root`, with chunked GetObject bodies.
#[derive(Debug)]
pub struct Store {
    fs: FileSystem,
    root: PathBuf,
}

impl Store {
    /// The buckets under `root`, one directory each.
    pub fn new(root: &Path) -> std::io::Result<Store> {
        let fs = FileSystem::new(root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        let root = std::env::current_dir()?.join(root).canonicalize()?;
        Ok(Store { fs, root })
    }

    /// The file of `bucket`/`key`, when the key names one plainly (no `..`, no root): the same
    /// file s3s-fs opened.
    fn file_of(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        let plain = |p: &str| {
            Path::new(p).components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        };
        (plain(bucket) && plain(key)).then(|| self.root.join(bucket).join(key))
    }
}

/// `fs`'s answer to `$op`, unchanged: its future as it is, in the shape `async_trait` gives the
/// trait's methods (the attribute does not reach into a macro's methods).
macro_rules! delegate {
    ($($op:ident: $input:ty => $output:ty;)*) => {
        $(
            fn $op<'life0, 'async_trait>(
                &'life0 self,
                req: S3Request<$input>,
            ) -> std::pin::Pin<Box<dyn std::future::Future<Output = S3Result<S3Response<$output>>> + Send + 'async_trait>>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                self.fs.$op(req)
            }
        )*
    };
}

#[async_trait::async_trait]
impl S3 for Store {
    delegate! {
        create_bucket: dto::CreateBucketInput => dto::CreateBucketOutput;
        copy_object: dto::CopyObjectInput => dto::CopyObjectOutput;
        delete_bucket: dto::DeleteBucketInput => dto::DeleteBucketOutput;
        delete_object: dto::DeleteObjectInput => dto::DeleteObjectOutput;
        delete_objects: dto::DeleteObjectsInput => dto::DeleteObjectsOutput;
        get_bucket_location: dto::GetBucketLocationInput => dto::GetBucketLocationOutput;
        head_bucket: dto::HeadBucketInput => dto::HeadBucketOutput;
        head_object: dto::HeadObjectInput => dto::HeadObjectOutput;
        list_buckets: dto::ListBucketsInput => dto::ListBucketsOutput;
        list_objects: dto::ListObjectsInput => dto::ListObjectsOutput;
        list_objects_v2: dto::ListObjectsV2Input => dto::ListObjectsV2Output;
        put_object: dto::PutObjectInput => dto::PutObjectOutput;
        create_multipart_upload: dto::CreateMultipartUploadInput => dto::CreateMultipartUploadOutput;
        upload_part: dto::UploadPartInput => dto::UploadPartOutput;
        upload_part_copy: dto::UploadPartCopyInput => dto::UploadPartCopyOutput;
        list_parts: dto::ListPartsInput => dto::ListPartsOutput;
        complete_multipart_upload: dto::CompleteMultipartUploadInput => dto::CompleteMultipartUploadOutput;
        abort_multipart_upload: dto::AbortMultipartUploadInput => dto::AbortMultipartUploadOutput;
    }

    /// s3s-fs's answer (status, headers, range checks, ETag), with its body replaced by the same
    /// bytes read `CHUNK` at a time.
    async fn get_object(
        &self,
        req: S3Request<dto::GetObjectInput>,
    ) -> S3Result<S3Response<dto::GetObjectOutput>> {
        let file = self.file_of(&req.input.bucket, &req.input.key);
        let range = req.input.range;
        let mut response = self.fs.get_object(req).await?;
        let (Some(path), Some(length)) = (file, response.output.content_length) else {
            return Ok(response);
        };
        let Ok(length) = u64::try_from(length) else {
            return Ok(response);
        };
        let Ok(mut f) = tokio::fs::File::open(&path).await else {
            return Ok(response);
        };
        let start = match range {
            None => 0,
            Some(Range::Int { first, .. }) => first,
            Some(Range::Suffix { .. }) => match f.metadata().await {
                Ok(m) => m.len().saturating_sub(length),
                Err(_) => return Ok(response),
            },
        };
        if start > 0 && f.seek(std::io::SeekFrom::Start(start)).await.is_err() {
            return Ok(response);
        }
        let chunk = usize::try_from(length).unwrap_or(CHUNK).clamp(1, CHUNK);
        let body = tokio_util::io::ReaderStream::with_capacity(f.take(length), chunk);
        response.output.body = Some(StreamingBlob::wrap(body));
        Ok(response)
    }
}
