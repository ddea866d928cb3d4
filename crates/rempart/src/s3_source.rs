//! `rempart ingest s3://bucket/prefix`: objects of an S3-compatible store
//! (AWS, Scaleway, OVHcloud, IONOS, MinIO...) read through `object_store`.
//!
//! Sovereignty: the region must be in the EU unless the operator allows it
//! by name (`--allow-region`); see [`check_region`]. The rule is about
//! where the bytes are read from, not who operates the store: the
//! deployment policy (trust tiers) is for model calls.
//!
//! Credentials come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
//! `AWS_SESSION_TOKEN` only — never from an instance-metadata service, and
//! never printed.

use std::time::Duration;

use anyhow::{Result, bail};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStoreExt, RetryConfig};

use crate::cli::Usage;

/// How to reach the store (flags, then the standard AWS variables).
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// Endpoint URL (`--s3-endpoint`, `AWS_ENDPOINT_URL_S3`,
    /// `AWS_ENDPOINT_URL`); AWS's own when none.
    pub endpoint: Option<String>,
    /// Region (`--s3-region`, `AWS_REGION`, `AWS_DEFAULT_REGION`).
    pub region: Option<String>,
    /// Path-style addressing (`https://host/bucket/key`), as MinIO and
    /// most S3-compatible servers on one host name need; otherwise
    /// virtual-hosted (`https://bucket.host/key`).
    pub path_style: bool,
    /// Regions allowed although not in the EU (or not known).
    pub allow_regions: Vec<String>,
}

/// EU member states (ISO 3166-1 alpha-2, lower case): a region named
/// `<cc>-<place>` (Scaleway `fr-par`, Exoscale `de-fra-1`) is in the EU
/// when `<cc>` is one of them.
const EU_COUNTRIES: [&str; 27] = [
    "at", "be", "bg", "hr", "cy", "cz", "dk", "ee", "fi", "fr", "de", "gr", "hu", "ie", "it", "lv",
    "lt", "lu", "mt", "nl", "pl", "pt", "ro", "sk", "si", "es", "se",
];

/// Providers' region names that are in the EU and do not follow
/// `<cc>-<place>` (OVHcloud, Hetzner, AWS European Sovereign Cloud).
const EU_NAMED: [(&str, &str); 10] = [
    ("gra", "Gravelines, FR (OVHcloud)"),
    ("sbg", "Strasbourg, FR (OVHcloud)"),
    ("rbx", "Roubaix, FR (OVHcloud)"),
    ("waw", "Warsaw, PL (OVHcloud)"),
    ("eu-west-par", "Paris, FR (OVHcloud)"),
    ("eu-south-mil", "Milan, IT (OVHcloud)"),
    ("fsn1", "Falkenstein, DE (Hetzner)"),
    ("nbg1", "Nuremberg, DE (Hetzner)"),
    ("hel1", "Helsinki, FI (Hetzner)"),
    (
        "eusc-de-east-1",
        "Brandenburg, DE (AWS European Sovereign Cloud)",
    ),
];

/// Region names in Europe but outside the EU: refused like any other
/// non-EU region, with the reason.
const NOT_EU: [(&str, &str); 5] = [
    ("eu-west-2", "London, UK (AWS)"),
    ("eu-central-2", "Zurich, CH (AWS)"),
    ("uk", "London, UK (OVHcloud)"),
    ("ch-gva-2", "Geneva, CH (Exoscale)"),
    ("ch-dk-2", "Zurich, CH (Exoscale)"),
];

/// Prefixes of region names of other continents (AWS and most others).
const NON_EU_PREFIXES: [&str; 9] = [
    "us-", "ca-", "ap-", "sa-", "me-", "af-", "il-", "mx-", "cn-",
];

/// Bare region names of other continents (OVHcloud).
const NON_EU_NAMES: [&str; 4] = ["bhs", "sgp", "syd", "us"];

/// Whether reading from `region` is admitted: an EU region, or one the
/// operator allowed by name. `Err` names the region and says why.
///
/// In the EU: `eu-*` (AWS and look-alikes) except London (`eu-west-2`) and
/// Zurich (`eu-central-2`); `<cc>-<place>` with `<cc>` an EU member state
/// (`fr-par`, `nl-ams`, `pl-waw`, `it-mil`, `de-fra-1`, `at-vie-1`...); a
/// bare member-state code (OVHcloud `de`); OVHcloud `gra`, `sbg`, `rbx`,
/// `waw`, `eu-west-par`, `eu-south-mil`; Hetzner `fsn1`, `nbg1`, `hel1`.
/// Outside: `us-*`, `ca-*`, `ap-*`, `sa-*`, ..., `uk`, `bhs`, the Swiss and
/// British regions above. Anything else is unknown, and refused: a region
/// name alone does not always tell the place (IONOS calls Berlin
/// `eu-central-2`, which is Zurich at AWS), so an unknown or mislabelled
/// region needs `--allow-region NAME`.
pub fn check_region(region: &str, allowed: &[String]) -> Result<(), String> {
    let r = region.trim().to_ascii_lowercase();
    if allowed.iter().any(|a| a.trim().eq_ignore_ascii_case(&r)) {
        return Ok(());
    }
    let hint = format!("pass --allow-region {r} to read from it anyway");
    if let Some((_, place)) = NOT_EU.iter().find(|(n, _)| *n == r) {
        return Err(format!(
            "S3 region `{r}` ({place}) is outside the EU; {hint}"
        ));
    }
    if EU_NAMED.iter().any(|(n, _)| *n == r) || EU_COUNTRIES.contains(&r.as_str()) {
        return Ok(());
    }
    if r.starts_with("eu-") {
        return Ok(());
    }
    if let Some((cc, place)) = r.split_once('-')
        && !place.is_empty()
        && EU_COUNTRIES.contains(&cc)
    {
        return Ok(());
    }
    if NON_EU_PREFIXES.iter().any(|p| r.starts_with(p)) || NON_EU_NAMES.contains(&r.as_str()) {
        return Err(format!("S3 region `{r}` is outside the EU; {hint}"));
    }
    Err(format!(
        "unknown S3 region `{r}`: not one Rempart knows to be in the EU; {hint}"
    ))
}

/// `s3://bucket/prefix` → (bucket, prefix without slashes at its ends).
pub fn parse_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return None;
    }
    Some((bucket.to_owned(), prefix.trim_matches('/').to_owned()))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// One bucket, opened.
pub struct Bucket {
    store: AmazonS3,
    name: String,
}

/// An object to ingest.
#[derive(Debug, Clone)]
pub struct Object {
    /// Key, as shown.
    pub key: String,
    /// Key, as the store takes it back.
    pub path: ObjectPath,
    /// Size in bytes.
    pub size: u64,
}

impl Object {
    fn of(m: object_store::ObjectMeta) -> Object {
        Object {
            key: m.location.to_string(),
            path: m.location,
            size: m.size,
        }
    }
}

impl Bucket {
    /// Open `bucket` with `opts` (flags, then the standard AWS variables).
    /// A region outside the EU, no region, or no credentials: a usage
    /// error naming what is missing.
    pub fn open(bucket: &str, opts: &S3Options) -> Result<Bucket> {
        // reqwest is built without a TLS provider of its own (workspace-wide).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let region = opts
            .region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .ok_or_else(|| {
                Usage("no S3 region: give --s3-region or set AWS_REGION (an EU region)".into())
            })?;
        check_region(&region, &opts.allow_regions).map_err(Usage)?;
        let endpoint = opts
            .endpoint
            .clone()
            .or_else(|| env("AWS_ENDPOINT_URL_S3"))
            .or_else(|| env("AWS_ENDPOINT_URL"));
        let (Some(key_id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
        else {
            bail!(Usage(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into()
            ));
        };
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(region.trim())
            .with_access_key_id(key_id)
            .with_secret_access_key(secret)
            // A dead endpoint fails within seconds, not the default minutes.
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(20),
                ..RetryConfig::default()
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(120))
                    .with_allow_http(
                        endpoint
                            .as_deref()
                            .is_some_and(|e| e.starts_with("http://")),
                    ),
            );
        if let Some(t) = env("AWS_SESSION_TOKEN") {
            b = b.with_token(t);
        }
        match endpoint {
            Some(e) if opts.path_style => b = b.with_endpoint(e.trim_end_matches('/')),
            Some(e) => {
                // Virtual-hosted: the bucket is the first label of the host.
                let Some((scheme, host)) = e.split_once("://") else {
                    bail!(Usage(format!(
                        "--s3-endpoint `{e}` is not a URL (http:// or https://)"
                    )));
                };
                b = b
                    .with_endpoint(format!(
                        "{scheme}://{bucket}.{}",
                        host.trim_end_matches('/')
                    ))
                    .with_virtual_hosted_style_request(true);
            }
            None => b = b.with_virtual_hosted_style_request(!opts.path_style),
        }
        // Rebuilt error without the builder's Debug dump of its settings.
        let store = b
            .build()
            .map_err(|e| Usage(format!("S3 bucket `{bucket}`: {e}")))?;
        Ok(Bucket {
            store,
            name: bucket.to_owned(),
        })
    }

    /// Every object under `prefix` (a folder: keys under `prefix/`; the
    /// whole bucket when empty), in key order, `page_size` keys per listing
    /// request, following the continuation token through every page; a
    /// prefix that is itself an object's key is that object.
    pub async fn list(&self, prefix: &str, page_size: usize) -> Result<Vec<Object>> {
        let folder = (!prefix.is_empty()).then(|| format!("{prefix}/"));
        let mut objects = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .store
                .list_paginated(
                    folder.as_deref(),
                    PaginatedListOptions {
                        page_token: token,
                        max_keys: Some(page_size.clamp(1, 1000)),
                        ..PaginatedListOptions::default()
                    },
                )
                .await
                .map_err(|e| self.error("cannot list", prefix, e))?;
            objects.extend(
                page.result
                    .objects
                    .into_iter()
                    // Folder markers (`a/b/`, empty) are not files.
                    .filter(|m| !(m.size == 0 && m.location.as_ref().ends_with('/')))
                    .map(Object::of),
            );
            token = page.page_token;
            if token.is_none() {
                break;
            }
        }
        if objects.is_empty() && !prefix.is_empty() {
            match self.store.head(&ObjectPath::from(prefix)).await {
                Ok(m) => objects.push(Object::of(m)),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error("cannot read", prefix, e)),
            }
        }
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    /// An object's bytes.
    pub async fn get(&self, object: &Object) -> Result<Vec<u8>> {
        let key = &object.key;
        let got = self
            .store
            .get(&object.path)
            .await
            .map_err(|e| self.error("cannot read", key, e))?;
        let bytes = got
            .bytes()
            .await
            .map_err(|e| self.error("cannot read", key, e))?;
        Ok(bytes.to_vec())
    }

    fn error(&self, what: &str, key: &str, e: object_store::Error) -> anyhow::Error {
        let why = match &e {
            object_store::Error::NotFound { .. } => "not found".to_owned(),
            e => e.to_string(),
        };
        anyhow::anyhow!("{what} s3://{}/{key}: {why}", self.name)
    }

    /// `s3://bucket/key`.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eu_regions_pass_and_others_are_named() {
        for r in [
            "eu-west-3",
            "eu-central-1",
            "EU-NORTH-1",
            "fr-par",
            "nl-ams",
            "pl-waw",
            "it-mil",
            "gra",
            "sbg",
            "rbx",
            "de",
            "waw",
            "de-fra-1",
            "at-vie-1",
            "eusc-de-east-1",
            "eu-west-par",
            "fsn1",
        ] {
            assert_eq!(check_region(r, &[]), Ok(()), "{r}");
        }
        for (r, says) in [
            ("us-east-1", "outside the EU"),
            ("ap-southeast-2", "outside the EU"),
            ("eu-west-2", "London"),
            ("eu-central-2", "Zurich"),
            ("uk", "London"),
            ("ch-gva-2", "Geneva"),
            ("bhs", "outside the EU"),
            ("moon-base-1", "unknown S3 region `moon-base-1`"),
            ("", "unknown S3 region ``"),
        ] {
            let e = check_region(r, &[]).unwrap_err();
            assert!(e.contains(says) && e.contains("--allow-region"), "{r}: {e}");
        }
        assert_eq!(check_region("us-east-1", &["US-EAST-1".into()]), Ok(()));
        assert!(check_region("us-east-1", &["us-east-2".into()]).is_err());
    }

    #[test]
    fn urls() {
        assert_eq!(parse_url("s3://b/p/q/"), Some(("b".into(), "p/q".into())));
        assert_eq!(parse_url("s3://b"), Some(("b".into(), String::new())));
        assert_eq!(parse_url("s3:///p"), None);
        assert_eq!(parse_url("/tmp/x"), None);
    }
}
