//! Media in LLM content: inline images, audio and files (base64 data URLs, or long base64
//! strings under keys that hold media) are replaced by a placeholder naming their kind, unless
//! the client enabled full AI capture. The placeholders are PostHog's
//! (`[base64 image redacted]`, `… audio …`, `… video …`, `… file …`).

use serde_json::Value;

/// Keys whose long base64 values are media.
const MEDIA_KEYS: [&str; 12] = [
    "data",
    "image_url",
    "imageUrl",
    "video_url",
    "videoUrl",
    "audio",
    "audio_data",
    "audioData",
    "inline_data",
    "inlineData",
    "file_data",
    "fileData",
];

/// Keys whose object holds a media `url`.
const MEDIA_URL_HOLDERS: [&str; 4] = ["image_url", "imageUrl", "video_url", "videoUrl"];

/// Keys beside a media value that say its type.
const MIME_KEYS: [&str; 5] = ["mime_type", "mimeType", "media_type", "mediaType", "format"];

/// A base64 string under a media key is media from this length on (shorter ones are ids).
const MEDIA_MIN_LEN: usize = 200;

/// `value` with its media replaced by placeholders.
pub(super) fn redact(value: Value) -> Value {
    walk(value, None, None, None)
}

/// `node`, found under `key` in an object whose siblings say `hint` of the media type, itself
/// under `parent_key`.
fn walk(node: Value, key: Option<&str>, hint: Option<&str>, parent_key: Option<&str>) -> Value {
    match node {
        Value::String(text) => match redacted(&text, key, hint, parent_key) {
            Some(placeholder) => Value::String(placeholder),
            None => Value::String(text),
        },
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| walk(item, None, None, key))
                .collect(),
        ),
        Value::Object(map) => {
            let hint = type_hint(&map);
            map.into_iter()
                .map(|(k, v)| {
                    let v = walk(v, Some(&k), hint.as_deref(), key);
                    (k, v)
                })
                .collect()
        }
        other => other,
    }
}

/// The placeholder for `text`, when it is media.
fn redacted(
    text: &str,
    key: Option<&str>,
    hint: Option<&str>,
    parent_key: Option<&str>,
) -> Option<String> {
    if let Some(rest) = text.strip_prefix("data:") {
        if let Some((mime, _)) = rest.split_once(";base64,") {
            if !mime.is_empty() && !mime.contains(',') {
                return Some(placeholder(Some(mime)));
            }
        }
    }
    let media_key = key.is_some_and(|k| MEDIA_KEYS.contains(&k))
        || (key == Some("url") && parent_key.is_some_and(|k| MEDIA_URL_HOLDERS.contains(&k)));
    (media_key && text.len() >= MEDIA_MIN_LEN && is_base64(text)).then(|| placeholder(hint))
}

/// Base64 (standard or URL-safe alphabet) with at most two `=` at the end.
fn is_base64(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    text.len() - body.len() <= 2
        && !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-'))
}

/// What an object says of the media it holds: a MIME type, or a `type` of image/video/audio.
fn type_hint(parent: &serde_json::Map<String, Value>) -> Option<String> {
    MIME_KEYS
        .iter()
        .find_map(|k| parent.get(*k).and_then(Value::as_str))
        .or_else(|| {
            parent
                .get("type")
                .and_then(Value::as_str)
                .filter(|t| matches!(*t, "image" | "video" | "audio"))
        })
        .map(str::to_owned)
}

fn placeholder(mime: Option<&str>) -> String {
    format!("[base64 {} redacted]", kind(mime))
}

/// `image`, `video`, `audio` or `file`, from a MIME type or a format name.
fn kind(mime: Option<&str>) -> &'static str {
    let Some(mime) = mime else {
        return "image";
    };
    if let Some((top, _)) = mime.split_once('/') {
        return match top {
            "image" => "image",
            "video" => "video",
            "audio" => "audio",
            _ => "file",
        };
    }
    match mime.to_ascii_lowercase().as_str() {
        "image" | "png" | "jpg" | "jpeg" | "gif" | "webp" | "bmp" | "svg" => "image",
        "video" | "mp4" | "mov" | "webm" | "avi" | "mkv" => "video",
        "audio" | "wav" | "mp3" | "pcm16" | "pcm" | "flac" | "opus" | "aac" | "ogg" | "m4a" => {
            "audio"
        }
        _ => "file",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_urls_become_placeholders_by_kind() {
        let messages = json!([{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "input_audio", "input_audio": {"data": "data:audio/wav;base64,UklGR="}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}},
        ]}]);
        let out = redact(messages);
        let content = &out[0]["content"];
        assert_eq!(content[0]["text"], "what is this?");
        assert_eq!(content[1]["image_url"]["url"], "[base64 image redacted]");
        assert_eq!(content[2]["input_audio"]["data"], "[base64 audio redacted]");
        assert_eq!(content[3]["file"]["file_data"], "[base64 file redacted]");
    }

    #[test]
    fn long_base64_under_media_keys_is_media_and_short_or_plain_text_is_not() {
        let long = "A".repeat(300);
        let out = redact(json!({
            "inline_data": {"mime_type": "video/mp4", "data": long},
            "audio": {"format": "mp3", "data": long},
            "data": "short-id",
            "text": long,
            "image_url": {"url": "https://example.com/cat.png"},
        }));
        assert_eq!(out["inline_data"]["data"], "[base64 video redacted]");
        assert_eq!(out["audio"]["data"], "[base64 audio redacted]");
        assert_eq!(out["data"], "short-id");
        assert_eq!(out["text"], long, "text is never media");
        assert_eq!(out["image_url"]["url"], "https://example.com/cat.png");
    }

    #[test]
    fn not_base64_is_left_alone() {
        let prose = "not base64 at all, with spaces ".repeat(10);
        assert_eq!(redact(json!({"data": prose})), json!({"data": prose}));
        assert!(!is_base64("abc==="));
        assert!(is_base64("abc=="));
    }
}
