//! `--prices FILE|live`, as `run`, `report`, `provision` and `status` take it: a price file laid
//! over the built-in table, or the AWS Price List API's current prices.

use std::path::Path;

use crate::error::Error;
use crate::results::pricing::PriceTable;

/// `--prices live`: the AWS Price List API's current prices in place of the built-in table's.
pub const LIVE: &str = "live";

/// Where and what `--prices live` reads: the region (else the AWS configuration's, else
/// us-east-1), the AWS profile, and which instance-hours and node-hours besides S3 Standard's
/// (a stack's own; by default every node type of the table and no instance).
#[derive(Clone, Copy, Debug, Default)]
pub struct LiveFor<'a> {
    pub region: Option<&'a str>,
    pub profile: Option<&'a str>,
    pub wanted: crate::aws::pricing::Wanted<'a>,
}

/// `--prices live`: the built-in table with the AWS Price List's current prices for `at.region`
/// in place, and how to cite them. A figure the Price List does not have keeps the built-in
/// value, with a warning.
pub async fn live_prices(at: LiveFor<'_>) -> Result<(PriceTable, String), Error> {
    let (region, profile) = (at.region, at.profile);
    let config = match crate::aws::load_config(region, profile).await {
        Ok(c) => c,
        Err(crate::aws::AwsError::NoRegion) => {
            crate::aws::load_config(Some(crate::results::cost::DEFAULT_REGION), profile).await?
        }
        Err(e) => return Err(e.into()),
    };
    let region =
        config.region().map_or_else(|| crate::results::cost::DEFAULT_REGION.to_owned(), ToString::to_string);
    let today: String = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .chars()
        .take(10)
        .collect();
    let (table, missing) = crate::aws::pricing::live_table(&config, &region, &today, at.wanted).await.map_err(|e| Error::Usage {
        flag: "--prices",
        value: LIVE.into(),
        detail: format!(
            "cannot read the AWS Price List ({e}); check your AWS credentials (it needs pricing:GetProducts), \
             or leave --prices out to use the built-in table"
        ),
    })?;
    if !missing.is_empty() {
        eprintln!(
            "fetchbench: warning: the AWS Price List has no {region} price for {}; the built-in table's figures stand in",
            missing.join(", ")
        );
    }
    Ok((table, format!("AWS Price List API ({region}, read {today})")))
}

/// `--prices FILE` or `--prices live` (read for `at`): `None` without the flag.
pub async fn prices_of(arg: Option<&Path>, at: LiveFor<'_>) -> Result<Option<(PriceTable, String)>, Error> {
    match arg {
        None => Ok(None),
        Some(p) if p == Path::new(LIVE) => live_prices(at).await.map(Some),
        Some(p) => price_file(p).map(Some),
    }
}

/// `--prices FILE`: the built-in price table with the file's figures in place, and the file's
/// name to cite them by.
pub fn price_file(path: &Path) -> Result<(PriceTable, String), Error> {
    let table = PriceTable::from_file(path).map_err(|e| Error::Usage {
        flag: "--prices",
        value: path.display().to_string(),
        detail: format!("{e}; see the built-in table, controller/src/results/prices.toml, for the layout"),
    })?;
    Ok((table, format!("price file {}", path.display())))
}
