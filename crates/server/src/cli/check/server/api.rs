//! The few preflight API calls server mode makes, and the parts of the answers it reads.
//! Routes and shapes: `api::services` (`GET /api/v1/services`, paginated),
//! `api::readiness` (`GET /api/v1/services/{id}/readiness`) and `api::reviews`
//! (`GET /api/v1/reviews/{id}`, JSON or `?format=markdown`).

use std::time::Duration;

use preflight_domain::{Attestation, Exclusion, RunResult, Waiver};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;
use uuid::Uuid;

use crate::cli::check::UsageError;

/// Each call's timeout.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest page the API serves (`http::pagination::MAX_PER_PAGE`).
const PER_PAGE: u64 = 200;

#[derive(Debug, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Service {
    pub id: Uuid,
    pub name: String,
    pub base_url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Readiness {
    pub ready: bool,
    pub reviews: Vec<ReviewBrief>,
}

#[derive(Debug, Deserialize)]
pub struct ReviewBrief {
    pub review_id: Uuid,
    pub title: String,
}

#[derive(Debug, Deserialize)]
pub struct Review {
    pub items: Vec<ReviewItem>,
}

#[derive(Debug, Deserialize)]
pub struct ReviewItem {
    pub key: String,
    pub text: String,
    pub section: Option<String>,
    pub group: Option<String>,
    #[serde(default)]
    pub optional: bool,
    pub state: String,
    pub check_definition: Option<String>,
    pub attestation: Option<Attestation>,
    pub waiver: Option<Waiver>,
    pub exclusion: Option<Exclusion>,
    pub last_run: Option<RunResult>,
}

/// An authenticated client for one preflight server.
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: SecretString,
}

#[derive(Deserialize)]
struct Problem {
    title: Option<String>,
    detail: Option<String>,
}

impl Client {
    pub fn new(server: &str, token: SecretString) -> Result<Self, UsageError> {
        let mut base =
            Url::parse(server).map_err(|e| UsageError::new(format!("--server: not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(UsageError::new(
                "--server must be an http:// or https:// URL",
            ));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(preflight_probe::USER_AGENT)
            .build()
            .map_err(|e| UsageError::new(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Self { http, base, token })
    }

    fn url(&self, path: &str) -> Result<Url, UsageError> {
        self.base
            .join(path)
            .map_err(|e| UsageError::new(format!("bad API path {path}: {e}")))
    }

    async fn send(&self, url: Url, markdown: bool) -> Result<reqwest::Response, UsageError> {
        let shown = url.path().to_owned();
        let mut request = self.http.get(url).bearer_auth(self.token.expose_secret());
        if markdown {
            request = request.header(reqwest::header::ACCEPT, "text/markdown");
        }
        let response = request
            .send()
            .await
            .map_err(|e| UsageError::new(format!("cannot reach the server ({shown}): {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let problem = response.json::<Problem>().await.ok();
        let said = problem
            .and_then(|p| p.detail.or(p.title))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        Err(UsageError::new(match status {
            StatusCode::UNAUTHORIZED => {
                format!("the server refused PREFLIGHT_TOKEN (401 on {shown}): {said}")
            }
            StatusCode::FORBIDDEN => format!("the token may not read {shown} (403): {said}"),
            _ => format!("GET {shown} answered {}: {said}", status.as_u16()),
        }))
    }

    async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, UsageError> {
        let shown = url.path().to_owned();
        self.send(url, false)
            .await?
            .json::<T>()
            .await
            .map_err(|e| UsageError::new(format!("unexpected answer from {shown}: {e}")))
    }

    /// The live service with exactly this name, going through every page of matches.
    pub async fn find_service(&self, name: &str) -> Result<Option<Service>, UsageError> {
        let mut page = 1u64;
        loop {
            let mut url = self.url("api/v1/services")?;
            url.query_pairs_mut()
                .append_pair("name", name)
                .append_pair("page", &page.to_string())
                .append_pair("per_page", &PER_PAGE.to_string());
            let found: Page<Service> = self.get(url).await?;
            if let Some(service) = found.items.iter().find(|s| s.name == name) {
                return Ok(Some(service.clone()));
            }
            let seen = found.page.saturating_mul(found.per_page);
            if found.items.is_empty() || seen >= found.total {
                return Ok(None);
            }
            page += 1;
        }
    }

    pub async fn readiness(&self, service_id: Uuid) -> Result<Readiness, UsageError> {
        self.get(self.url(&format!("api/v1/services/{service_id}/readiness"))?)
            .await
    }

    pub async fn review(&self, review_id: Uuid) -> Result<Review, UsageError> {
        self.get(self.url(&format!("api/v1/reviews/{review_id}"))?)
            .await
    }

    /// The review exported as Markdown with its state filled in.
    pub async fn review_markdown(&self, review_id: Uuid) -> Result<String, UsageError> {
        let mut url = self.url(&format!("api/v1/reviews/{review_id}"))?;
        url.query_pairs_mut().append_pair("format", "markdown");
        let shown = url.path().to_owned();
        self.send(url, true)
            .await?
            .text()
            .await
            .map_err(|e| UsageError::new(format!("unexpected answer from {shown}: {e}")))
    }
}
