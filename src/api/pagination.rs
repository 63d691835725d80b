//! Cursor pagination: `?limit=` (default 100, at most 1000) and `?cursor=`, an opaque token naming the last
//! item of the previous page. Lists answer `{"<plural>": [...], "next_cursor": "..."}`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::error::ApiError;

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 1000 (default 100).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::invalid("limit", format!("must be between 1 and {MAX_LIMIT}"))),
        }
    }

    /// The id bytes the cursor continues after.
    pub fn after(&self) -> Result<Option<[u8; 16]>, ApiError> {
        let Some(cursor) = &self.cursor else { return Ok(None) };
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| ApiError::invalid("cursor", "is not a cursor"))?;
        bytes.try_into().map(Some).map_err(|_| ApiError::invalid("cursor", "is not a cursor"))
    }
}

pub fn cursor(after: Option<[u8; 16]>) -> Option<String> {
    after.map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_outside_the_range_are_refused() {
        assert_eq!(PageQuery::default().limit().unwrap(), 100);
        assert!(PageQuery { limit: Some(0), cursor: None }.limit().is_err());
        assert!(PageQuery { limit: Some(1001), cursor: None }.limit().is_err());
        assert_eq!(PageQuery { limit: Some(1000), cursor: None }.limit().unwrap(), 1000);
    }

    #[test]
    fn cursor_round_trips_and_garbage_is_refused() {
        let text = cursor(Some([7; 16])).unwrap();
        assert_eq!(PageQuery { limit: None, cursor: Some(text) }.after().unwrap(), Some([7; 16]));
        assert!(PageQuery { limit: None, cursor: Some("!!".into()) }.after().is_err());
        assert!(PageQuery { limit: None, cursor: Some("AAAA".into()) }.after().is_err());
    }
}
