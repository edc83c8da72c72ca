//! Page-number pagination shared by list endpoints.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

pub const MAX_PER_PAGE: u64 = 200;
/// The highest page number: far beyond any real list, and low enough that the row offset
/// `(page - 1) * per_page` fits the databases' signed 64-bit `OFFSET`.
pub const MAX_PAGE: u64 = 1_000_000;

#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-based page number (default 1, at most 1000000).
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<u64>,
    /// Items per page (default 50, at most 200).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u64>,
}

impl PageParams {
    /// (page, per_page) after validation.
    pub fn resolve(self) -> Result<(u64, u64), ApiError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(50);
        if page == 0 || page > MAX_PAGE {
            return Err(ApiError::validation("invalid pagination")
                .field("page", format!("must be between 1 and {MAX_PAGE}")));
        }
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(ApiError::validation("invalid pagination")
                .field("per_page", format!("must be between 1 and {MAX_PER_PAGE}")));
        }
        Ok((page, per_page))
    }
}

/// A page of results.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}
