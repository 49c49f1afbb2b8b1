//! S3 Express One Zone session auth in front of the embedded S3 endpoint, so that an
//! `s3-express` workload runs locally the way it runs on AWS: the agent's SDK calls CreateSession
//! with the endpoint's key, gets short-lived credentials, and signs every object request with
//! them (service `s3express`, token in `x-amz-s3session-token`).
//!
//! s3s 0.14.1 refuses the `s3express` signing service outright, so this layer answers
//! CreateSession itself and checks each `s3express` request: object requests need a live session
//! token issued for their bucket and the session's own key (403 AccessDenied otherwise); the
//! bucket-level calls AWS takes without a session (HeadBucket, CreateBucket) need the endpoint's
//! key. An accepted request goes on to s3s without its signature and with a mark that
//! [`SessionAccess`] lets through. It checks keys and tokens, not the signature's bytes: a
//! stand-in for the AWS protocol on loopback, not a security boundary. Requests signed as `s3`
//! pass through to s3s, which checks their signatures itself.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use http::{Method, Request, Response, StatusCode};
use s3s::access::{S3Access, S3AccessContext};
use s3s::service::S3Service;
use s3s::{Body, HttpError, HttpResponse, S3Result};

/// How long a session's credentials last; AWS gives five minutes, and the SDK renews them 10 s
/// before they end.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(300);
/// The header the SDK carries a session's token in, in place of `x-amz-security-token`.
const SESSION_TOKEN: &str = "x-amz-s3session-token";
/// The signing service of S3 Express requests.
const EXPRESS_SERVICE: &str = "s3express";

/// The sessions the endpoint issued, by token.
#[derive(Debug)]
pub struct Sessions {
    /// The endpoint's own key: the one CreateSession and the bucket-level calls are signed with.
    access_key: String,
    /// Where the buckets live, one folder each: CreateSession of a missing bucket is refused.
    root: PathBuf,
    live: Mutex<HashMap<String, Session>>,
    issued: AtomicU64,
}

#[derive(Debug)]
struct Session {
    bucket: String,
    access_key: String,
    expires: Instant,
}

impl Sessions {
    /// No sessions yet, for the endpoint whose key is `access_key` serving the buckets in `root`.
    pub fn new(access_key: &str, root: &Path) -> Sessions {
        Sessions {
            access_key: access_key.to_owned(),
            root: root.to_path_buf(),
            live: Mutex::new(HashMap::new()),
            issued: AtomicU64::new(0),
        }
    }

    /// CreateSession calls answered with credentials so far.
    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::Relaxed)
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// CreateSession for `bucket`, asked with `access_key`.
    fn create(&self, bucket: &str, access_key: &str) -> HttpResponse {
        if access_key != self.access_key {
            return error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "CreateSession needs the endpoint's access key",
            );
        }
        if !self.root.join(bucket).is_dir() {
            return error(
                StatusCode::NOT_FOUND,
                "NoSuchBucket",
                &format!("the bucket {bucket} does not exist"),
            );
        }
        let token = super::embedded_s3::random_token("FBS");
        let session_key = super::embedded_s3::random_token("FBX");
        let secret = super::embedded_s3::random_token("");
        let now = Instant::now();
        let expiration = humantime::format_rfc3339_seconds(SystemTime::now() + SESSION_LIFETIME);
        {
            let mut live = self.live();
            live.retain(|_, s| s.expires > now);
            let session = Session {
                bucket: bucket.to_owned(),
                access_key: session_key.clone(),
                expires: now + SESSION_LIFETIME,
            };
            live.insert(token.clone(), session);
        }
        let n = self.issued.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!("embedded s3: CreateSession for {bucket}: session {n} issued");
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CreateSessionResult \
             xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Credentials><SessionToken>{token}</SessionToken>\
             <SecretAccessKey>{secret}</SecretAccessKey><AccessKeyId>{session_key}</AccessKeyId>\
             <Expiration>{expiration}</Expiration></Credentials></CreateSessionResult>"
        );
        xml(StatusCode::OK, body)
    }

    /// Whether `token` is a live session for `bucket` whose key is `access_key`.
    fn admits(&self, token: &str, bucket: &str, access_key: &str) -> bool {
        self.live()
            .get(token)
            .is_some_and(|s| s.bucket == bucket && s.access_key == access_key && s.expires > Instant::now())
    }
}

/// The mark of a request this layer accepted, for the bucket it names.
#[derive(Clone, Debug)]
struct Admitted {
    bucket: String,
}

/// s3s's access check: a signed request as s3s's own default allows it, and an unsigned one
/// only when this layer admitted it for the bucket it reaches.
#[derive(Debug)]
pub struct SessionAccess;

#[async_trait::async_trait]
impl S3Access for SessionAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_some() {
            return Ok(());
        }
        let bucket = cx.s3_path().get_bucket_name().map(str::to_owned);
        match cx.extensions_mut().get::<Admitted>() {
            Some(admitted) if bucket.as_deref() == Some(admitted.bucket.as_str()) => Ok(()),
            _ => Err(s3s::s3_error!(AccessDenied, "Signature is required")),
        }
    }
}

/// The embedded endpoint's HTTP service: this layer, then s3s.
#[derive(Clone, Debug)]
pub struct ExpressFront {
    s3: S3Service,
    sessions: Arc<Sessions>,
}

impl ExpressFront {
    /// `s3` (built with [`SessionAccess`]) behind the session checks of `sessions`.
    pub fn new(s3: S3Service, sessions: Arc<Sessions>) -> ExpressFront {
        ExpressFront { s3, sessions }
    }

    async fn handle(self, mut req: Request<Body>) -> Result<HttpResponse, HttpError> {
        let Some(access_key) = express_key(&req) else {
            return self.s3.call(req).await;
        };
        let path = req.uri().path().trim_start_matches('/');
        let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
        let bucket = bucket.to_owned();
        let session =
            req.uri().query().is_some_and(|q| q.split('&').any(|p| p.split('=').next() == Some("session")));
        if req.method() == Method::GET && key.is_empty() && session {
            return Ok(self.sessions.create(&bucket, &access_key));
        }
        // HeadBucket and CreateBucket: AWS takes them with the caller's own credentials.
        let bucket_call = key.is_empty() && (req.method() == Method::HEAD || req.method() == Method::PUT);
        let admitted = if bucket_call {
            access_key == self.sessions.access_key
        } else {
            let token = req.headers().get(SESSION_TOKEN).and_then(|v| v.to_str().ok()).unwrap_or_default();
            self.sessions.admits(token, &bucket, &access_key)
        };
        if !admitted {
            let message = format!("no live S3 Express session for bucket {bucket}: call CreateSession first");
            return Ok(error(StatusCode::FORBIDDEN, "AccessDenied", &message));
        }
        let headers = req.headers_mut();
        headers.remove(http::header::AUTHORIZATION);
        headers.remove(SESSION_TOKEN);
        req.extensions_mut().insert(Admitted { bucket });
        self.s3.call(req).await
    }
}

impl hyper::service::Service<Request<hyper::body::Incoming>> for ExpressFront {
    type Response = HttpResponse;
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send>>;

    fn call(&self, req: Request<hyper::body::Incoming>) -> Self::Future {
        Box::pin(self.clone().handle(req.map(Body::from)))
    }
}

/// The access key of a request signed (SigV4, in the Authorization header) for the `s3express`
/// service; `None` for any other request.
fn express_key<B>(req: &Request<B>) -> Option<String> {
    let auth = req.headers().get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let credential = auth.split([' ', ',']).find_map(|part| part.strip_prefix("Credential="))?;
    // KEY/DATE/REGION/SERVICE/aws4_request
    let mut scope = credential.split('/');
    let key = scope.next()?;
    (scope.nth(2)? == EXPRESS_SERVICE).then(|| key.to_owned())
}

/// An S3 error reply: `code` and `message` in S3's XML.
fn error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    xml(status, body)
}

fn xml(status: StatusCode, body: String) -> HttpResponse {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(service: &str) -> Request<()> {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=KEY1/20261206/us-east-1/{service}/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=00"
        );
        Request::builder().header("authorization", auth).body(()).expect("request")
    }

    #[test]
    fn only_requests_signed_for_s3express_are_this_layers() {
        assert_eq!(express_key(&signed("s3express")).as_deref(), Some("KEY1"));
        assert_eq!(express_key(&signed("s3")), None);
        assert_eq!(express_key(&Request::new(())), None);
    }

    #[test]
    fn a_session_admits_its_own_bucket_and_key_only() {
        let root = tempfile::tempdir().expect("tmp");
        std::fs::create_dir(root.path().join("b--local-az1--x-s3")).expect("bucket");
        let sessions = Sessions::new("BASE", root.path());
        assert_eq!(sessions.create("b--local-az1--x-s3", "OTHER").status(), StatusCode::FORBIDDEN);
        assert_eq!(sessions.create("missing--local-az1--x-s3", "BASE").status(), StatusCode::NOT_FOUND);
        assert_eq!(sessions.create("b--local-az1--x-s3", "BASE").status(), StatusCode::OK);
        assert_eq!(sessions.issued(), 1);
        let (token, session_key) = {
            let live = sessions.live();
            let (token, s) = live.iter().next().expect("a session");
            (token.clone(), s.access_key.clone())
        };
        assert!(sessions.admits(&token, "b--local-az1--x-s3", &session_key));
        assert!(!sessions.admits(&token, "c--local-az1--x-s3", &session_key));
        assert!(!sessions.admits(&token, "b--local-az1--x-s3", "BASE"));
        assert!(!sessions.admits("forged", "b--local-az1--x-s3", &session_key));
    }
}
