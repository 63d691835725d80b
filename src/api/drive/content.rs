//! File content: streamed uploads and downloads. Neither direction holds a file in memory: an upload's body is
//! bridged into the drive's blocking `Read` (hashed and written to disk as it arrives), a download is read in
//! chunks on the blocking pool and sent as they come, with `Range`, `ETag` and `If-None-Match`.

use std::io::{Read, Seek, SeekFrom};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::entries::precondition;
use super::{PathQuery, authorized, parse_path, share_id};
use crate::api::AppState;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::json::ApiQuery;
use crate::drive::{ContentReader, Entry, EntryRef, Origin, Permission, WriteOptions};

const CHUNK: usize = 256 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(download, upload))
}

/// A quoted strong ETag for an entry.
pub fn etag_header(entry_etag: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{entry_etag}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// The byte range to send: `None` for the whole file, `Err` for an unsatisfiable range. Only single ranges are
/// served; a multi-range request gets the whole file, as RFC 9110 allows.
fn requested_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else { return Ok(None) };
    let Some(spec) = spec.trim().strip_prefix("bytes=") else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else { return Ok(None) };
    let (first, last) = (first.trim(), last.trim());
    let range = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(first), Ok(last)) if first <= last => (first, last.min(size.saturating_sub(1))),
        (Ok(first), Err(_)) if last.is_empty() => (first, size.saturating_sub(1)),
        (Err(_), Ok(suffix)) if first.is_empty() && suffix > 0 => (size.saturating_sub(suffix), size.saturating_sub(1)),
        _ => return Ok(None),
    };
    if size == 0 || range.0 >= size { Err(()) } else { Ok(Some(range)) }
}

/// Streams `len` bytes of `reader` from its current position as a response body.
fn stream_body(mut reader: ContentReader, len: u64) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut remaining = len;
        while remaining > 0 {
            let mut buf = vec![0u8; CHUNK.min(remaining as usize)];
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    remaining -= n as u64;
                    // The client went away: stop reading.
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        break;
                    }
                }
                Err(error) => {
                    let _ = tx.blocking_send(Err(error));
                    break;
                }
            }
        }
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
}

/// Download a file. Supports `Range` (one range), `ETag` and `If-None-Match`.
#[utoipa::path(
    get, path = "/api/v1/shares/{id}/content", tag = "content", params(("id" = String, Path), PathQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the content", content_type = "application/octet-stream"),
        (status = 206, description = "the requested range"), (status = 304, description = "not modified"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 416, description = "bad range")
    )
)]
async fn download(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<PathQuery>,
) -> Result<Response, ApiError> {
    let share = share_id(&id)?;
    let path = parse_path(&query.path)?;
    let (entry, reader) = authorized(&state, &caller, share, path, Permission::Read, move |d, path, _| {
        d.read_file(share, &EntryRef::Path(path.clone()))
    })
    .await?;
    serve_content(&headers, &entry.etag.to_string(), entry.modified_at, reader).await
}

/// Answers a download of `reader` with conditional and range handling.
pub async fn serve_content(
    headers: &HeaderMap,
    etag: &str,
    modified_at: OffsetDateTime,
    mut reader: ContentReader,
) -> Result<Response, ApiError> {
    let size = reader.size();
    let tag = etag_header(etag);
    let if_none_match = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == tag || t.trim() == "*"))
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response());
    }
    let last_modified = httpdate(modified_at);
    let range = match requested_range(headers, size) {
        Ok(range) => range,
        Err(()) => {
            let content_range = HeaderValue::from_str(&format!("bytes */{size}")).map_err(ApiError::internal)?;
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, [(header::CONTENT_RANGE, content_range)]).into_response());
        }
    };
    let (status, first, len) = match range {
        Some((first, last)) => (StatusCode::PARTIAL_CONTENT, first, last - first + 1),
        None => (StatusCode::OK, 0, size),
    };
    if first > 0 {
        reader = tokio::task::spawn_blocking(move || reader.seek(SeekFrom::Start(first)).map(|_| reader))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
    }
    let mut response = Response::new(stream_body(reader, len));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, tag);
    if let Ok(value) = HeaderValue::from_str(&last_modified) {
        h.insert(header::LAST_MODIFIED, value);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {first}-{}/{size}", first + len - 1);
        h.insert(header::CONTENT_RANGE, HeaderValue::from_str(&value).map_err(ApiError::internal)?);
    }
    Ok(response)
}

fn httpdate(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    at.to_offset(time::UtcOffset::UTC).format(&format).unwrap_or_default()
}

/// Upload a file, streamed; missing parent folders are created. An overwrite keeps the previous content as a
/// version. `If-Match: <etag>` makes it conditional, `If-None-Match: *` refuses to overwrite, `X-Modified-At`
/// (RFC 3339) sets the modification time.
#[utoipa::path(
    put, path = "/api/v1/shares/{id}/content", tag = "content", params(("id" = String, Path), PathQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"), security(("bearer" = [])),
    responses(
        (status = 201, body = Object, description = "created"), (status = 200, body = Object, description = "overwritten"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 412, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody)
    )
)]
async fn upload(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<PathQuery>,
    body: Body,
) -> Result<(StatusCode, axum::Json<Entry>), ApiError> {
    let share = share_id(&id)?;
    let path = parse_path(&query.path)?;
    let mut options = WriteOptions::new(Origin::user(caller.user.id));
    options.precondition = precondition(&headers)?;
    options.expected_size = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
    if let Some(value) = headers.get("x-modified-at") {
        let text = value.to_str().map_err(|_| ApiError::invalid("X-Modified-At", "is not ASCII"))?;
        let at = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|_| ApiError::invalid("X-Modified-At", "is not an RFC 3339 time"))?;
        options.modified_at = Some(at);
    }
    // The body becomes a blocking reader for the drive, which runs on the blocking pool.
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let mut reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let (entry, created) = authorized(&state, &caller, share, path, Permission::Write, move |d, path, _| {
        let existed = d.entry(share, &EntryRef::Path(path.clone())).is_ok();
        let entry = d.write_file(share, path, &mut reader, &options)?;
        Ok((entry, !existed))
    })
    .await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, axum::Json(entry)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        requested_range(&headers, size)
    }

    #[test]
    fn ranges_are_clamped_and_suffixes_count_from_the_end() {
        assert_eq!(range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(range("bytes=90-200", 100), Ok(Some((90, 99))));
        assert_eq!(range("bytes=95-", 100), Ok(Some((95, 99))));
        assert_eq!(range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(range("bytes=-500", 100), Ok(Some((0, 99))));
        assert_eq!(range("bytes=100-", 100), Err(()));
        assert_eq!(range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(range("items=0-1", 100), Ok(None));
        assert_eq!(range("bytes=5-2", 100), Ok(None));
    }

    #[test]
    fn http_dates_are_imf_fixdate() {
        assert_eq!(httpdate(time::macros::datetime!(2026-04-23 10:00:05 UTC)), "Thu, 23 Apr 2026 10:00:05 GMT");
    }
}
