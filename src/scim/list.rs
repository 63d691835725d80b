//! Query results: the ListResponse envelope, 1-based `startIndex` / `count` paging (RFC 7644 section
//! 3.4.2.4), and the query parameters or `/.search` body (section 3.4.3) parsed into one `SearchRequest`.

use serde_json::{Value, json};

use super::attrs::{Projection, SortSpec};
use super::error::{ScimError, ScimResult};
use super::eval::check_filter;
use super::filter::{Filter, parse_filter};
use super::schema::ResourceType;

/// The ListResponse message schema URN.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The SearchRequest message schema URN (`POST /.search`).
pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// One page of a result: `start_index` is 1-based, `count` may be 0 (only `totalResults` is wanted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub start_index: usize,
    pub count: usize,
}

impl Page {
    /// Clamps the client's numbers as the RFC says: `startIndex` < 1 means 1, a negative `count` means 0, no
    /// `count` means `default_count`, and nothing above `max_count` (the advertised `filter.maxResults`).
    pub fn new(start_index: Option<i64>, count: Option<i64>, default_count: usize, max_count: usize) -> Self {
        let start_index = start_index.map_or(1, |s| usize::try_from(s.max(1)).unwrap_or(usize::MAX));
        let count = count.map_or(default_count, |c| usize::try_from(c.max(0)).unwrap_or(usize::MAX));
        Self { start_index, count: count.min(max_count) }
    }

    /// How many results to skip.
    pub fn offset(&self) -> usize {
        self.start_index - 1
    }

    /// This page of an already filtered and ordered result.
    pub fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let from = self.offset().min(items.len());
        let to = from.saturating_add(self.count).min(items.len());
        &items[from..to]
    }
}

/// The ListResponse body. `resources` is the page, `total` the number of matches before paging.
pub fn list_response(total: usize, page: &Page, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": page.start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// A query, from `GET ?filter=...&...` or a `POST /.search` body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    pub filter: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
}

impl SearchRequest {
    /// From URL-decoded query pairs. Parameter names are matched case-insensitively; unknown ones ignored.
    pub fn from_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> ScimResult<Self> {
        let mut r = Self::default();
        for (k, v) in pairs {
            let v = v.to_string();
            match k.to_ascii_lowercase().as_str() {
                "filter" => r.filter = Some(v),
                "attributes" => r.attributes = Some(v),
                "excludedattributes" => r.excluded_attributes = Some(v),
                "sortby" => r.sort_by = Some(v),
                "sortorder" => r.sort_order = Some(v),
                "startindex" => r.start_index = Some(integer("startIndex", &v)?),
                "count" => r.count = Some(integer("count", &v)?),
                _ => {}
            }
        }
        Ok(r)
    }

    /// From a `POST /.search` body. `attributes` may be a list or a comma-separated string.
    pub fn from_json(body: &Value) -> ScimResult<Self> {
        let Value::Object(o) = body else {
            return Err(ScimError::InvalidSyntax("a search body must be a JSON object".into()));
        };
        let mut r = Self::default();
        for (k, v) in o {
            match k.to_ascii_lowercase().as_str() {
                "schemas" => {
                    let ok = v.as_array().is_some_and(|a| a.iter().any(|s| s.as_str() == Some(SEARCH_SCHEMA)));
                    if !ok {
                        return Err(ScimError::InvalidSyntax(format!("a search body must list {SEARCH_SCHEMA}")));
                    }
                }
                "filter" => r.filter = string(k, v)?,
                "attributes" => r.attributes = list(k, v)?,
                "excludedattributes" => r.excluded_attributes = list(k, v)?,
                "sortby" => r.sort_by = string(k, v)?,
                "sortorder" => r.sort_order = string(k, v)?,
                "startindex" => r.start_index = number(k, v)?,
                "count" => r.count = number(k, v)?,
                _ => {}
            }
        }
        Ok(r)
    }

    /// The parsed and checked filter, if one was given (an empty one counts as none).
    pub fn filter(&self, rt: &'static ResourceType) -> ScimResult<Option<Filter>> {
        match self.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
            None => Ok(None),
            Some(text) => {
                let f = parse_filter(text)?;
                check_filter(&f, rt)?;
                Ok(Some(f))
            }
        }
    }

    pub fn projection(&self, rt: &'static ResourceType) -> ScimResult<Projection> {
        Projection::parse(rt, self.attributes.as_deref(), self.excluded_attributes.as_deref())
    }

    pub fn sort(&self, rt: &'static ResourceType) -> ScimResult<Option<SortSpec>> {
        SortSpec::parse(rt, self.sort_by.as_deref(), self.sort_order.as_deref())
    }

    pub fn page(&self, default_count: usize, max_count: usize) -> Page {
        Page::new(self.start_index, self.count, default_count, max_count)
    }
}

fn integer(name: &str, v: &str) -> ScimResult<i64> {
    v.trim().parse().map_err(|_| ScimError::InvalidValue(format!("{name} must be an integer, got '{v}'")))
}

fn string(name: &str, v: &Value) -> ScimResult<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(ScimError::InvalidValue(format!("{name} must be a string"))),
    }
}

fn list(name: &str, v: &Value) -> ScimResult<Option<String>> {
    match v {
        Value::Array(items) => {
            let names: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            names
                .map(|n| Some(n.join(",")))
                .ok_or_else(|| ScimError::InvalidValue(format!("{name} must list attribute names")))
        }
        other => string(name, other),
    }
}

fn number(name: &str, v: &Value) -> ScimResult<Option<i64>> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => {
            n.as_i64().map(Some).ok_or_else(|| ScimError::InvalidValue(format!("{name} must be an integer")))
        }
        Value::String(s) => integer(name, s).map(Some),
        _ => Err(ScimError::InvalidValue(format!("{name} must be an integer"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::USER_TYPE;

    #[test]
    fn paging_clamps_as_the_rfc_says() {
        assert_eq!(Page::new(None, None, 100, 1000), Page { start_index: 1, count: 100 });
        assert_eq!(Page::new(Some(-5), Some(-1), 100, 1000), Page { start_index: 1, count: 0 });
        assert_eq!(Page::new(Some(3), Some(5000), 100, 1000).count, 1000);
        let items: Vec<u32> = (1..=10).collect();
        assert_eq!(Page::new(Some(9), Some(5), 100, 1000).slice(&items), &[9, 10]);
        assert_eq!(Page::new(Some(11), Some(5), 100, 1000).slice(&items), &[] as &[u32]);
        assert_eq!(Page::new(Some(1), Some(0), 100, 1000).slice(&items), &[] as &[u32]);
    }

    #[test]
    fn an_empty_result_is_a_list_with_zero_total() {
        let page = Page::new(None, None, 100, 1000);
        assert_eq!(
            list_response(0, &page, Vec::new()),
            json!({"schemas": [LIST_SCHEMA], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
        );
    }

    #[test]
    fn okta_style_query_parses() {
        let r = SearchRequest::from_query([
            ("filter", "userName eq \"a@b.c\""),
            ("startIndex", "1"),
            ("count", "100"),
            ("excludedAttributes", "groups"),
        ])
        .expect("parses");
        assert_eq!((r.start_index, r.count), (Some(1), Some(100)));
        assert!(r.filter(&USER_TYPE).expect("valid filter").is_some());
        assert!(matches!(SearchRequest::from_query([("count", "ten")]), Err(ScimError::InvalidValue(_))));
        let bad = SearchRequest::from_query([("filter", "userName eq")]).expect("parses");
        assert!(matches!(bad.filter(&USER_TYPE), Err(ScimError::InvalidFilter(_))));
    }

    #[test]
    fn search_bodies_take_lists_and_check_their_schema() {
        let r = SearchRequest::from_json(&json!({
            "schemas": [SEARCH_SCHEMA],
            "attributes": ["displayName", "userName"],
            "filter": "displayName sw \"smith\"",
            "startIndex": 1,
            "count": "10"
        }))
        .expect("parses");
        assert_eq!(r.attributes.as_deref(), Some("displayName,userName"));
        assert_eq!(r.count, Some(10));
        assert!(matches!(SearchRequest::from_json(&json!({"schemas": ["urn:x"]})), Err(ScimError::InvalidSyntax(_))));
    }
}
