//! The embedded stylesheet, served under a name carrying a hash of its content: a new
//! build's stylesheet has a new name, so the old one can be cached for a year.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const CSS: &str = include_str!("../../assets/app.css");

static CSS_PATH: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(CSS.as_bytes());
    let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("/assets/app.{hash}.css")
});

/// The stylesheet's address, e.g. `/assets/app.1a2b3c4d5e6f.css`.
pub fn css_path() -> &'static str {
    CSS_PATH.as_str()
}

/// `GET /assets/{file}`: the stylesheet under its current name; any other name is unknown.
pub async fn serve(Path(file): Path<String>) -> Response {
    if css_path().strip_prefix("/assets/") != Some(file.as_str()) {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    }
    let mut res = CSS.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    res
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_name_carries_the_content_hash() {
        let path = super::css_path();
        assert!(
            path.starts_with("/assets/app.") && path.ends_with(".css"),
            "{path}"
        );
        assert_eq!(path.len(), "/assets/app..css".len() + 12);
    }
}
