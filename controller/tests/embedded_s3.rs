//! The embedded S3 endpoint of local runs, through aws-sdk-s3 over HTTP: GetObject bodies (read in
//! 1 MiB chunks, not s3s-fs's 4 KiB ones) are the object's bytes, whole or in a range across
//! chunk boundaries, and its errors are S3's.

mod common;

use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use common::*;
use fetchbench::fleet::embedded_s3::EmbeddedS3;

/// 3 MiB and a bit: three whole chunks and a short one; every byte differs from its neighbours'.
fn object() -> Vec<u8> {
    (0..(3 << 20) + 12_345u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

#[tokio::test]
async fn get_object_returns_the_objects_bytes_whole_and_in_ranges_across_chunks() {
    let root = std::env::temp_dir().join(format!("fetchbench-embedded-s3-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("a folder");
    let s3 = EmbeddedS3::start(&root, std::net::Ipv4Addr::LOCALHOST.into()).await.expect("starts");
    let sdk = fetchbench::aws::config_loader()
        .region(Region::new("us-east-1"))
        .endpoint_url(s3.endpoint_url())
        .credentials_provider(Credentials::new(s3.access_key(), s3.secret_key(), None, None, "test"))
        .load()
        .await;
    let client =
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    client.create_bucket().bucket("fb-test").send().await.expect("create bucket");
    let body = object();
    client
        .put_object()
        .bucket("fb-test")
        .key("big.bin")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .expect("put");

    let get = |range: Option<&str>| {
        let request =
            client.get_object().bucket("fb-test").key("big.bin").set_range(range.map(str::to_owned));
        async move {
            let out = request.send().await.expect("get");
            let length = out.content_length();
            let range = out.content_range().map(str::to_owned);
            let bytes = out.body.collect().await.expect("body").into_bytes().to_vec();
            (bytes, length, range)
        }
    };
    let (whole, length, _) = get(None).await;
    assert_eq!(length, Some(body.len() as i64));
    assert!(whole == body, "the whole object, {} bytes read of {}", whole.len(), body.len());
    // A range across the first chunk boundary (1 MiB), inclusive at both ends.
    let (part, length, range) = get(Some("bytes=1048570-2097160")).await;
    assert_eq!(
        (length, range.as_deref()),
        (Some(1_048_591), Some(&*format!("bytes 1048570-2097160/{}", body.len())))
    );
    assert!(part == body[1_048_570..=2_097_160], "the range's bytes");
    // The last 10 bytes, and a range running past the end.
    let (tail, _, _) = get(Some("bytes=-10")).await;
    assert_eq!(tail, body[body.len() - 10..]);
    let (end, _, _) = get(Some(&format!("bytes={}-", body.len() - 3))).await;
    assert_eq!(end, body[body.len() - 3..]);
    // S3's errors, not the store's.
    let missing = client.get_object().bucket("fb-test").key("nope").send().await.unwrap_err();
    assert!(missing.into_service_error().is_no_such_key());
    let outside = client
        .get_object()
        .bucket("fb-test")
        .key("big.bin")
        .range("bytes=99999999-")
        .send()
        .await
        .unwrap_err();
    assert_eq!(outside.raw_response().map(|r| r.status().as_u16()), Some(416));
    s3.shutdown().await;
    let _ = std::fs::remove_dir_all(&root);
}

/// A local run whose objects are large (1 MiB and up) says in its summary and report.html that
/// its S3 figures are the embedded endpoint's, not S3's; a run of small objects does not.
#[test]
fn a_local_run_of_large_objects_says_its_s3_figures_are_the_endpoints() {
    let sb = Sandbox::new();
    for (size, says) in [(1_048_576u64, true), (4_096, false)] {
        let scenario = sb.write(
            &format!("s{size}.toml"),
            &format!(
                "name = \"large\"\nagents = 1\n[dataset]\nobjects = 4\nsize = {size}\n\
                 [[workload]]\nname = \"s3\"\ntarget = \"s3\"\nconcurrency = 1\nrequests = 8\n"
            ),
        );
        let out = sb.path().join(format!("out{size}"));
        let o = sb.run(&["run", scenario.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8")]);
        let text = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "{text}{}", stderr(&o));
        let line = "LOCAL S3: objects of 1.0 MiB on average make each S3 read throughput-bound";
        assert_eq!(text.contains(line), says, "{size} B: {text}");
        let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
        assert_eq!(html.contains("LOCAL S3:"), says, "{size} B: report.html");
    }
}
