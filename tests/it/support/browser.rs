//! A real headless Chromium driven over WebDriver: chromedriver started on a free loopback
//! port, a fantoccini session with a download directory, and small waiting helpers.

use anyhow::{bail, Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The WebDriver key code of Enter.
pub const ENTER: &str = "\u{E007}";
/// The WebDriver key codes of Escape and Tab (for [`Browser::press`]).
pub const ESCAPE: char = '\u{E00C}';
pub const TAB: char = '\u{E004}';

/// Every visible form control without a label and every button or link without an accessible
/// name, as text (empty when the page passes).
const A11Y_AUDIT: &str = r#"
const visible = (e) => e.offsetParent !== null || e.getClientRects().length > 0;
const name = (e) => (e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') && document.getElementById(e.getAttribute('aria-labelledby'))?.textContent || e.textContent || e.title || '').trim();
const bad = [];
for (const e of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
  if (!visible(e)) continue;
  const labelled = (e.labels && e.labels.length) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby');
  if (!labelled) bad.push(`unlabelled ${e.tagName.toLowerCase()} ${e.name || e.id || e.outerHTML.slice(0, 80)}`);
}
for (const e of document.querySelectorAll('button, a[href], [role=button]')) {
  if (visible(e) && !name(e)) bad.push(`nameless ${e.tagName.toLowerCase()} ${e.outerHTML.slice(0, 80)}`);
}
return bad.join('\n');
"#;

/// A browser session; chromedriver is killed when dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    pub downloads: tempfile::TempDir,
    pub screenshots: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Where screenshots go: `CYBORG_SCREENSHOT_DIR`, else `<target>/ui-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CYBORG_SCREENSHOT_DIR") {
        return PathBuf::from(d);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("ui-screenshots")
}

fn find_binary(names: &[&str]) -> Result<PathBuf> {
    for n in names {
        for dir in std::env::var("PATH").unwrap_or_default().split(':') {
            let p = Path::new(dir).join(n);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    bail!(
        "none of {names:?} found: install Debian's chromium and chromium-driver \
         (scripts/install-deps.sh --tests)"
    )
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session at 1366x900.
    pub async fn start() -> Result<Browser> {
        let chromedriver = find_binary(&["chromedriver"])?;
        let chromium = find_binary(&["chromium", "chromium-browser", "google-chrome"])?;
        let port = free_port()?;
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver")?;
        let downloads = tempfile::tempdir()?;
        let screenshots = screenshot_dir();
        std::fs::create_dir_all(&screenshots)?;
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium.display().to_string(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--window-size=1366,900", "--disable-dev-shm-usage",
                         "--no-first-run", "--no-default-browser-check"],
                "prefs": {
                    "download.default_directory": downloads.path().display().to_string(),
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false,
                }
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        let client = loop {
            let conn = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(conn)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if start.elapsed() < Duration::from_secs(30) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => bail!("no webdriver session after 30s: {e}"),
            }
        };
        Ok(Browser {
            client,
            driver,
            downloads,
            screenshots,
        })
    }

    /// Logs in through the login form and waits for the dashboard.
    pub async fn login(&self, base: &str, email: &str, password: &str) -> Result<()> {
        self.goto(&format!("{base}/#/login")).await?;
        self.fill("#login-email", email).await?;
        self.fill("#login-password", password).await?;
        self.click("#login-submit").await?;
        self.wait_js(
            "document.querySelector('#count-clients .n')",
            Duration::from_secs(20),
        )
        .await?;
        Ok(())
    }

    /// Fails naming every unlabelled control and nameless button or link on the page.
    pub async fn audit_a11y(&self, page: &str) -> Result<()> {
        let v = self.client.execute(A11Y_AUDIT, vec![]).await?;
        let problems = v.as_str().unwrap_or_default();
        if !problems.is_empty() {
            bail!("{page}: accessibility problems:\n{problems}");
        }
        Ok(())
    }

    /// Opens `#/page`, waits for `ready` (a CSS selector), checks that no error box shows and
    /// that every control is labelled, and saves a screenshot named `shot`.
    pub async fn check_page(&self, base: &str, page: &str, ready: &str, shot: &str) -> Result<()> {
        self.goto(&format!("{base}/#/{page}")).await?;
        self.wait_js(
            &format!("document.querySelector('{ready}') && !document.querySelector('#content [data-loading]')"),
            Duration::from_secs(20),
        )
        .await?;
        let errors = self
            .js(
                "return [...document.querySelectorAll('#content .error-box')].map(e => e.textContent).join(' | ')",
                Value::Null,
            )
            .await?;
        let errors = errors.as_str().unwrap_or_default();
        if !errors.is_empty() {
            bail!("{page}: {errors}");
        }
        self.audit_a11y(page).await?;
        self.screenshot(shot).await?;
        Ok(())
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        self.client.goto(url).await.context("goto")?;
        Ok(())
    }

    /// Evaluates `expr` (a JavaScript expression) until it is truthy; returns its value.
    pub async fn wait_js(&self, expr: &str, timeout: Duration) -> Result<Value> {
        let start = Instant::now();
        let script = format!("try {{ return ({expr}); }} catch (e) {{ return null; }}");
        loop {
            let v = self.client.execute(&script, vec![]).await?;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return Ok(v);
            }
            if start.elapsed() > timeout {
                let page = self
                    .client
                    .execute(
                        "return document.body ? document.body.innerText.slice(0, 2000) : ''",
                        vec![],
                    )
                    .await
                    .unwrap_or_default();
                bail!("waited {timeout:?} for `{expr}`; the page shows: {page}");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Waits until an element matches `css` and returns it.
    pub async fn wait_for(&self, css: &str) -> Result<fantoccini::elements::Element> {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("no element {css}"))
    }

    /// Clicks the first element matching `css` (waiting for it).
    pub async fn click(&self, css: &str) -> Result<()> {
        self.wait_for(css).await?.click().await?;
        Ok(())
    }

    /// Replaces the value of an input and types `text`.
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        let e = self.wait_for(css).await?;
        e.clear().await?;
        e.send_keys(text).await?;
        Ok(())
    }

    /// Presses and releases one key on whatever has the focus (a real keyboard event).
    pub async fn press(&self, key: char) -> Result<()> {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client.perform_actions(keys).await?;
        Ok(())
    }

    /// Runs a script with `arguments[0]` = `arg`.
    pub async fn js(&self, script: &str, arg: Value) -> Result<Value> {
        Ok(self.client.execute(script, vec![arg]).await?)
    }

    /// Saves a PNG of the viewport as `<dir>/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        // Notifications would cover the page: the picture shows the page itself.
        self.client
            .execute(
                "document.getElementById('toasts')?.replaceChildren()",
                vec![],
            )
            .await?;
        let png = self.client.screenshot().await?;
        let path = self.screenshots.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Like [`Browser::screenshot`] with a taller window, to show a whole long page.
    pub async fn screenshot_tall(&self, name: &str, height: u32) -> Result<PathBuf> {
        self.client.set_window_size(1366, height).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let r = self.screenshot(name).await;
        self.client.set_window_size(1366, 900).await?;
        r
    }

    /// Waits for a finished download (no `.crdownload` part file) and returns its path.
    pub async fn downloaded(&self, timeout: Duration) -> Result<PathBuf> {
        let start = Instant::now();
        loop {
            let files: Vec<PathBuf> = std::fs::read_dir(self.downloads.path())?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            if let Some(f) = files.iter().find(|p| {
                !p.extension()
                    .is_some_and(|x| x == "crdownload" || x == "tmp")
            }) {
                if !files
                    .iter()
                    .any(|p| p.extension().is_some_and(|x| x == "crdownload"))
                {
                    return Ok(f.clone());
                }
            }
            if start.elapsed() > timeout {
                bail!("no download after {timeout:?}: {files:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn close(self) -> Result<()> {
        let client = self.client.clone();
        client.close().await?;
        Ok(())
    }
}

/// The first file named `name` under `dir`.
pub fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}
