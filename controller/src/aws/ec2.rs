//! EC2: which zones offer an instance type. One call, made without aws-sdk-ec2 (the largest SDK
//! crate, for one operation): the EC2 Query API's DescribeInstanceTypeOfferings, signed with the
//! SDK's own SigV4 signer and credentials and sent over the same rustls-on-ring HTTPS stack.

use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use super::AwsError;

const SERVICE: &str = "ec2";
const OPERATION: &str = "DescribeInstanceTypeOfferings";
/// The EC2 Query API's version.
const API_VERSION: &str = "2016-11-15";

/// An EC2 client for the one call fetchbench makes.
#[derive(Clone, Debug)]
pub struct Ec2 {
    region: String,
    /// `AWS_ENDPOINT_URL` (or the profile's endpoint), else EC2's regional endpoint.
    endpoint: String,
    credentials: Option<SharedCredentialsProvider>,
}

impl Ec2 {
    /// A client over `config`.
    pub fn new(config: &SdkConfig) -> Ec2 {
        let region = config.region().map(ToString::to_string).unwrap_or_default();
        let endpoint = config.endpoint_url().map_or_else(
            || format!("https://ec2.{region}.amazonaws.com"),
            |e| e.trim_end_matches('/').to_owned(),
        );
        Ec2 { region, endpoint, credentials: config.credentials_provider() }
    }

    /// The zones of the region (names, e.g. "us-east-1b") that offer `instance_type`, sorted.
    pub async fn describe_instance_type_offerings(
        &self,
        instance_type: &str,
    ) -> Result<Vec<String>, AwsError> {
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", OPERATION)
            .append_pair("Version", API_VERSION)
            .append_pair("LocationType", "availability-zone")
            .append_pair("Filter.1.Name", "instance-type")
            .append_pair("Filter.1.Value.1", instance_type)
            .finish();
        let body = self.post(form).await?;
        let mut zones: Vec<String> = elements(&body, "location").map(str::to_owned).collect();
        zones.sort();
        zones.dedup();
        Ok(zones)
    }

    /// POST `form` to EC2, signed; the response body when EC2 answered 2xx.
    async fn post(&self, form: String) -> Result<String, AwsError> {
        let local = |e: &dyn std::fmt::Display| AwsError::local(SERVICE, OPERATION, e);
        let provider = self.credentials.as_ref().ok_or_else(|| local(&"no AWS credentials configured"))?;
        let credentials =
            provider.provide_credentials().await.map_err(|e| local(&crate::support::error_chain(&e)))?;
        let identity = credentials.into();
        let settings = SigningSettings::default();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SERVICE)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| local(&e))?
            .into();
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let mut request = http::Request::post(format!("{}/", self.endpoint))
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(form.clone())))
            .map_err(|e| local(&e))?;
        let signable = SignableRequest::new(
            "POST",
            request.uri().to_string(),
            [("content-type", content_type)].into_iter(),
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
        let call = |detail: String| AwsError::Call { service: SERVICE, operation: OPERATION, detail };
        let response = client.request(request).await.map_err(|e| call(crate::support::error_chain(&e)))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| call(e.to_string()))?.to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        if !status.is_success() {
            let code = elements(&body, "Code").next().unwrap_or(status.as_str());
            let message = elements(&body, "Message").next().unwrap_or_default();
            return Err(call(format!("{code}: {message}")));
        }
        Ok(body)
    }
}

/// The text of every `<name>...</name>` element of an XML document, in order. EC2's answers hold
/// no attributes, CDATA or nesting in the elements read here.
fn elements<'a>(xml: &'a str, name: &str) -> impl Iterator<Item = &'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let starts: Vec<&'a str> = xml.split(open.as_str()).skip(1).collect();
    starts.into_iter().filter_map(move |rest| rest.split_once(close.as_str()).map(|(text, _)| text.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_zones_and_the_error_of_ec2s_answers() {
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
