//! The AWS Query protocol by hand: a form POSTed to a service's regional endpoint, signed with the
//! SDK's own SigV4 signer and credentials over the same rustls-on-ring HTTPS stack, and an XML
//! answer. For the services of which fetchbench makes one or two calls (EC2, CloudWatch), where
//! an SDK crate would cost more build time than the calls are worth.

use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use super::AwsError;

/// A Query-protocol client of one service.
#[derive(Clone, Debug)]
pub struct QueryClient {
    /// The service's name in errors, e.g. "ec2".
    service: &'static str,
    /// Its signing name, e.g. "ec2" or "monitoring".
    signing_name: &'static str,
    region: String,
    /// `AWS_ENDPOINT_URL` (or the profile's endpoint), else the service's regional endpoint.
    endpoint: String,
    credentials: Option<SharedCredentialsProvider>,
}

impl QueryClient {
    /// A client of `service` (endpoint prefix and signing name `signing_name`) over `config`.
    pub fn new(config: &SdkConfig, service: &'static str, signing_name: &'static str) -> QueryClient {
        let region = config.region().map(ToString::to_string).unwrap_or_default();
        let endpoint = config.endpoint_url().map_or_else(
            || format!("https://{signing_name}.{region}.amazonaws.com"),
            |e| e.trim_end_matches('/').to_owned(),
        );
        QueryClient { service, signing_name, region, endpoint, credentials: config.credentials_provider() }
    }

    /// A client of a service whose endpoint is not regional: `endpoint` (unless `AWS_ENDPOINT_URL`
    /// or the profile gives one), signed for `region`.
    pub fn at(
        config: &SdkConfig,
        service: &'static str,
        signing_name: &'static str,
        region: &str,
        endpoint: &str,
    ) -> QueryClient {
        let endpoint = config.endpoint_url().unwrap_or(endpoint).trim_end_matches('/').to_owned();
        QueryClient {
            service,
            signing_name,
            region: region.to_owned(),
            endpoint,
            credentials: config.credentials_provider(),
        }
    }

    /// POST `form` (with its Action and Version) for `operation`, signed; the answer's body when
    /// the service answered 2xx, else its error code and message.
    pub async fn post(&self, operation: &'static str, form: String) -> Result<String, AwsError> {
        self.send(operation, "application/x-www-form-urlencoded; charset=utf-8", None, form).await
    }

    /// POST `body` to the AWS JSON 1.1 `target` (e.g. `AWSPriceListService.GetProducts`), signed;
    /// the answer's body when the service answered 2xx, else its error type and message.
    pub async fn post_json(
        &self,
        operation: &'static str,
        target: &str,
        body: String,
    ) -> Result<String, AwsError> {
        self.send(operation, "application/x-amz-json-1.1", Some(target), body).await
    }

    async fn send(
        &self,
        operation: &'static str,
        content_type: &'static str,
        target: Option<&str>,
        form: String,
    ) -> Result<String, AwsError> {
        let service = self.service;
        let local = |e: &dyn std::fmt::Display| AwsError::local(service, operation, e);
        let provider = self.credentials.as_ref().ok_or_else(|| local(&"no AWS credentials configured"))?;
        let credentials =
            provider.provide_credentials().await.map_err(|e| local(&crate::support::error_chain(&e)))?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.signing_name)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| local(&e))?
            .into();
        let mut builder =
            http::Request::post(format!("{}/", self.endpoint)).header("content-type", content_type);
        let mut signed_headers = vec![("content-type", content_type)];
        if let Some(target) = target {
            builder = builder.header("x-amz-target", target);
            signed_headers.push(("x-amz-target", target));
        }
        let mut request = builder.body(Full::new(Bytes::from(form.clone()))).map_err(|e| local(&e))?;
        let signable = SignableRequest::new(
            "POST",
            request.uri().to_string(),
            signed_headers.into_iter(),
            SignableBody::Bytes(form.as_bytes()),
        )
        .map_err(|e| local(&e))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| local(&e))?.into_parts();
        instructions.apply_to_request_http1x(&mut request);

        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| local(&e))?
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
        let call = |detail: String| AwsError::Call { service, operation, detail };
        let response = client.request(request).await.map_err(|e| call(crate::support::error_chain(&e)))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| call(e.to_string()))?.to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        if !status.is_success() {
            if target.is_some() {
                // {"__type": "...#ValidationException", "message": "..."}
                let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let code =
                    json["__type"].as_str().and_then(|t| t.rsplit('#').next()).unwrap_or(status.as_str());
                let message = json["message"].as_str().or(json["Message"].as_str()).unwrap_or_default();
                return Err(call(format!("{code}: {message}")));
            }
            let code = elements(&body, "Code").next().unwrap_or(status.as_str());
            let message = elements(&body, "Message").next().unwrap_or_default();
            return Err(call(format!("{code}: {message}")));
        }
        Ok(body)
    }
}

/// The text of every `<name>...</name>` element of an XML document, in order (an element nested in
/// another of the same name is not told apart). The answers read here hold no attributes or CDATA
/// in the elements read.
pub fn elements<'a>(xml: &'a str, name: &str) -> impl Iterator<Item = &'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let starts: Vec<&'a str> = xml.split(open.as_str()).skip(1).collect();
    starts.into_iter().filter_map(move |rest| rest.split_once(close.as_str()).map(|(text, _)| text.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_elements_and_the_error_of_an_answer() {
        let ok = "<DescribeInstanceTypeOfferingsResponse><instanceTypeOfferingSet>\
                  <item><instanceType>c7i.large</instanceType><locationType>availability-zone</locationType>\
                  <location>us-east-1b</location></item>\
                  <item><instanceType>c7i.large</instanceType><location>us-east-1a</location></item>\
                  </instanceTypeOfferingSet></DescribeInstanceTypeOfferingsResponse>";
        assert_eq!(elements(ok, "location").collect::<Vec<_>>(), ["us-east-1b", "us-east-1a"]);
        let err = "<Response><Errors><Error><Code>UnauthorizedOperation</Code>\
                   <Message>You are not authorized</Message></Error></Errors></Response>";
        assert_eq!(elements(err, "Code").next(), Some("UnauthorizedOperation"));
        assert_eq!(elements(err, "Message").next(), Some("You are not authorized"));
    }
}
