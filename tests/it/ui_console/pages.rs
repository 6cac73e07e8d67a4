//! Every page of the console at 1440×900 and 390×844: no error box, labelled controls,
//! nothing wider than the phone's viewport (an element may only extend past it inside a box
//! that scrolls and itself fits), the menu folded behind a button on the phone, and a
//! screenshot of each (`<name>.png` and `phone-<name>.png`).

use crate::support::browser::Browser;
use crate::support::Server;
use anyhow::{bail, ensure, Result};
use serde_json::{json, Value};
use std::time::Duration;

const SHORT: Duration = Duration::from_secs(30);
pub const DESKTOP: (u32, u32) = (1440, 900);
pub const PHONE: (u32, u32) = (390, 844);

/// What sticks out of the viewport horizontally, as text (empty when the page fits).
const OVERFLOW: &str = r#"
const vw = document.documentElement.clientWidth;
const bad = [];
const sw = document.documentElement.scrollWidth;
if (sw > vw + 1) bad.push(`the page is ${sw}px wide for a ${vw}px viewport`);
const fits = (r) => r.left >= -1 && r.right <= vw + 1;
for (const e of document.querySelectorAll('body *')) {
  const r = e.getBoundingClientRect();
  if (!r.width || !r.height || fits(r)) continue;
  let p = e.parentElement, contained = false;
  while (p && p !== document.body) {
    if (/(auto|scroll|hidden)/.test(getComputedStyle(p).overflowX) && fits(p.getBoundingClientRect())) { contained = true; break; }
    p = p.parentElement;
  }
  if (!contained) bad.push(`${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : ''} spans ${Math.round(r.left)}..${Math.round(r.right)}px`);
}
return bad.slice(0, 12).join('\n');
"#;

/// Resizes the window so that the viewport is `w`×`h` CSS pixels.
pub async fn viewport(b: &Browser, (w, h): (u32, u32)) -> Result<()> {
    b.client.set_window_size(w, h).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let inner = b
        .js(
            "return [window.innerWidth, window.innerHeight]",
            Value::Null,
        )
        .await?;
    let (iw, ih) = (
        inner[0].as_u64().unwrap_or(0) as u32,
        inner[1].as_u64().unwrap_or(0) as u32,
    );
    if (iw, ih) != (w, h) {
        // The window has borders: grow it by the difference.
        b.client
            .set_window_size(w + (w.saturating_sub(iw)), h + (h.saturating_sub(ih)))
            .await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Fails naming what sticks out of the viewport.
pub async fn fits(b: &Browser, page: &str) -> Result<()> {
    let v = b.js(OVERFLOW, Value::Null).await?;
    let problems = v.as_str().unwrap_or_default();
    if !problems.is_empty() {
        bail!("{page} at 390 px: wider than the viewport:\n{problems}");
    }
    Ok(())
}

/// Opens `hash`, waits for `ready`, checks it and saves `name` at both sizes (back to desktop).
pub async fn shots(b: &Browser, base: &str, hash: &str, ready: &str, name: &str) -> Result<()> {
    for (size, shot) in [
        (DESKTOP, name.to_string()),
        (PHONE, format!("phone-{name}")),
    ] {
        viewport(b, size).await?;
        // A full page load at each size: the page renders as it would on that screen.
        let q = if size == PHONE { "?w=390" } else { "?w=1440" };
        b.goto(&format!("{base}/{q}{hash}")).await?;
        b.wait_js(
            &format!("document.querySelector({ready:?}) && !document.querySelector('#content [data-loading]')"),
            SHORT,
        )
        .await?;
        // Charts and late rows settle.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let errors = b
            .js("return [...document.querySelectorAll('#content .error-box')].map(e => e.textContent).join(' | ')", Value::Null)
            .await?;
        ensure!(
            errors.as_str().unwrap_or_default().is_empty(),
            "{hash}: {errors}"
        );
        b.audit_a11y(hash).await?;
        if size == PHONE {
            fits(b, hash).await?;
        }
        b.screenshot(&shot).await?;
    }
    viewport(b, DESKTOP).await
}

/// Every page of the console, then the phone menu.
pub async fn every_page(s: &Server, token: &str, b: &Browser, prefix: &str) -> Result<()> {
    let job = s
        .ok(
            token,
            "{ jobs(first: 1, jobType: \"job\") { nodes { id } } }",
            json!({}),
        )
        .await?["jobs"]["nodes"][0]["id"]
        .as_i64()
        .unwrap_or(1);
    let job_hash = format!("#/jobs/{job}");
    let local = s
        .ok(
            token,
            r#"{ clients(search: "localhost") { nodes { id } } }"#,
            json!({}),
        )
        .await?["clients"]["nodes"][0]["id"]
        .as_i64()
        .unwrap_or(1);
    let browse_hash = format!("#/catalog/browse?client={local}");
    let diff_hash = format!("#/catalog/diff?client={local}");
    let pages: Vec<(&str, &str, &str)> = vec![
        ("#/", "#fleet-health table", "dashboard"),
        ("#/clients", "#clients-list td", "clients"),
        ("#/repositories", "#repositories-list td", "repositories"),
        ("#/schedules", "#schedules-list td", "schedules"),
        ("#/policies", "#policies-list td", "policies"),
        ("#/jobs", "#jobs-list table", "jobs"),
        (&job_hash, "#log-state[data-final]", "job"),
        ("#/catalog?q=data.txt", "#catalog-total", "catalog"),
        (&browse_hash, "#browse-tree .node", "browse"),
        (&diff_hash, "#diff-result", "diff"),
        ("#/stats", "#stats-charts svg", "stats"),
        ("#/users", "#users-list td", "users"),
        ("#/hostkeys", "#host-keys-title", "hostkeys"),
        ("#/vmproviders", "#vmproviders-list", "vmproviders"),
        ("#/cluster", "#cluster [data-heartbeat]", "cluster"),
        (
            "#/settings/general",
            "#settings-form-general",
            "settings-general",
        ),
        ("#/settings/mail", "#settings-form-mail", "settings-mail"),
        ("#/settings/ssh", "#ssh-key h2", "settings-ssh"),
        ("#/settings/me", "#settings-me form", "settings-me"),
        ("#/settings/tokens", "#tokens-list", "settings-tokens"),
    ];
    for (hash, ready, name) in pages {
        shots(b, &s.url, hash, ready, &format!("{prefix}{name}")).await?;
    }
    phone_menu(s, b).await
}

/// On the phone the menu is one button; it opens, and following a link folds it again.
async fn phone_menu(s: &Server, b: &Browser) -> Result<()> {
    viewport(b, PHONE).await?;
    b.goto(&format!("{}/#/", s.url)).await?;
    b.wait_for("#fleet-health").await?;
    let folded = "getComputedStyle(document.getElementById('main-nav')).display === 'none'";
    b.wait_js(folded, SHORT).await?;
    let logout = b
        .js("const r = document.getElementById('logout').getBoundingClientRect(); return r.right <= window.innerWidth && r.width > 0", Value::Null)
        .await?;
    ensure!(logout == true, "Log out is off-screen on a phone");
    b.click("#menu-toggle").await?;
    b.wait_js(&format!("!({folded}) && document.getElementById('menu-toggle').getAttribute('aria-expanded') === 'true'"), SHORT)
        .await?;
    fits(b, "menu").await?;
    b.screenshot("phone-menu").await?;
    b.click("#main-nav a[href='#/jobs']").await?;
    b.wait_js(&format!("location.hash === '#/jobs' && {folded}"), SHORT)
        .await?;
    viewport(b, DESKTOP).await
}
