//! A small MIME reader for mail captured by the SMTP sink: headers, multipart walking,
//! base64 and quoted-printable bodies.
#![allow(dead_code)]

use anyhow::{Context, Result};

/// Decodes standard base64, ignoring whitespace and stopping at padding.
pub fn b64decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        if c == b'=' {
            break;
        }
        let Some(v) = val(c) else { continue };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// The `Subject:` header of a raw message.
pub fn subject(data: &str) -> String {
    header(data.split("\r\n\r\n").next().unwrap_or(""), "subject").unwrap_or_default()
}

fn unfold(head: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for l in head.lines() {
        if l.starts_with(' ') || l.starts_with('\t') {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(l.trim());
            }
        } else if let Some((k, v)) = l.split_once(':') {
            out.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    out
}

pub fn header(head: &str, name: &str) -> Option<String> {
    unfold(head)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// A leaf part of a MIME message, decoded.
#[derive(Debug, Clone)]
pub struct Part {
    pub content_type: String,
    pub content_id: Option<String>,
    pub body: Vec<u8>,
}

impl Part {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

/// Every leaf part of a raw message (one for a non-multipart message); the top-level
/// content type is returned first.
pub fn mime_parts(raw: &str) -> Result<(String, Vec<Part>)> {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").context("no header/body separator")?;
    let ct = header(head, "content-type").unwrap_or_else(|| "text/plain".into());
    let mut parts = Vec::new();
    walk(head, body, &mut parts)?;
    Ok((ct, parts))
}

fn walk(head: &str, body: &str, out: &mut Vec<Part>) -> Result<()> {
    let ct = header(head, "content-type").unwrap_or_else(|| "text/plain".into());
    if ct.to_ascii_lowercase().starts_with("multipart/") {
        let boundary = ct
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("boundary="))
            .next()
            .context("multipart without boundary")?
            .trim_matches('"')
            .to_string();
        let delim = format!("--{boundary}");
        for chunk in body.split(&delim).skip(1) {
            if chunk.starts_with("--") {
                break;
            }
            let chunk = chunk.strip_prefix('\n').unwrap_or(chunk);
            let (h, b) = chunk.split_once("\n\n").unwrap_or((chunk, ""));
            walk(h, b.strip_suffix('\n').unwrap_or(b), out)?;
        }
        return Ok(());
    }
    let cte = header(head, "content-transfer-encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match cte.as_str() {
        "base64" => b64decode(body),
        "quoted-printable" => qp_decode(body),
        _ => body.as_bytes().to_vec(),
    };
    out.push(Part {
        content_type: ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
        content_id: header(head, "content-id")
            .map(|c| c.trim_matches(|c| c == '<' || c == '>').to_string()),
        body: bytes,
    });
    Ok(())
}

fn qp_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if let Some(h) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(h);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}
