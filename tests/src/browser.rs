//! A small WebDriver client for browser tests: it starts `chromedriver` (Debian's
//! `chromium-driver`) on a free port, opens a headless Chromium session, and drives it over
//! the W3C WebDriver protocol (JSON over HTTP, through the harness's own HTTP client).
//!
//! Chromedriver and the browser run in their own process group, killed when the
//! [`Browser`] drops; chromedriver also dies with the test process.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

use crate::http;
use crate::proc::die_with_parent;

/// The key W3C WebDriver uses for element references.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// WebDriver's code for the left arrow key, for [`Browser::press_key`].
pub const ARROW_LEFT: &str = "\u{E012}";
/// WebDriver's code for the right arrow key, for [`Browser::press_key`].
pub const ARROW_RIGHT: &str = "\u{E014}";

/// Where a browser test's screenshots go: the committed `docs/screens/{name}/` when
/// `RONG_UPDATE_SCREENS=1`, else a scratch directory (so a test run leaves the tree clean).
pub fn screens_dir(name: &str) -> PathBuf {
    if std::env::var("RONG_UPDATE_SCREENS").as_deref() == Ok("1") {
        // Read at run time: CI may run a binary built in another checkout.
        let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| "tests".into());
        PathBuf::from(manifest).join("../docs/screens").join(name)
    } else {
        std::env::temp_dir().join(format!("rong-screens-{name}"))
    }
}

/// What went wrong talking to the browser.
#[derive(Debug)]
pub struct WdError(pub String);

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WdError {}

/// A result of a WebDriver call.
pub type WdResult<T> = Result<T, WdError>;

/// Options for a new browser.
#[derive(Debug, Clone)]
pub struct BrowserOptions {
    /// Window width in CSS pixels.
    pub width: u32,
    /// Window height in CSS pixels.
    pub height: u32,
    /// The Chromium binary.
    pub chromium: PathBuf,
    /// The chromedriver binary.
    pub chromedriver: PathBuf,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions {
            width: 1280,
            height: 900,
            chromium: PathBuf::from("/usr/bin/chromium"),
            chromedriver: PathBuf::from("/usr/bin/chromedriver"),
        }
    }
}

/// An element found on the page.
#[derive(Debug, Clone)]
pub struct Element {
    id: String,
}

/// A cookie as WebDriver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Whether JavaScript cannot read it.
    pub http_only: bool,
    /// `SameSite`, such as `Strict`.
    pub same_site: Option<String>,
}

/// A headless Chromium driven through chromedriver; both are killed on drop.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    addr: std::net::SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
}

/// Whether chromium and chromedriver are installed where [`BrowserOptions::default`] looks.
pub fn available() -> bool {
    let o = BrowserOptions::default();
    o.chromium.exists() && o.chromedriver.exists()
}

impl Browser {
    /// Starts chromedriver and a headless session with the default options.
    pub fn start() -> Browser {
        Self::start_with(&BrowserOptions::default()).unwrap_or_else(|e| panic!("browser: {e}"))
    }

    /// Starts chromedriver on a free port, waits until its `/status` says ready, and opens
    /// a headless Chromium session with the given window size.
    pub fn start_with(opts: &BrowserOptions) -> WdResult<Browser> {
        if !opts.chromedriver.exists() || !opts.chromium.exists() {
            return Err(WdError(format!(
                "{} or {} is missing: install Debian's chromium and chromium-driver (scripts/setup.sh)",
                opts.chromium.display(),
                opts.chromedriver.display()
            )));
        }
        let profile = tempfile::tempdir().map_err(|e| WdError(format!("temp dir: {e}")))?;
        // A port picked a moment ago may be taken meanwhile: try a few.
        let mut last = String::new();
        for _ in 0..3 {
            let port = crate::free_port();
            let mut cmd = Command::new(&opts.chromedriver);
            cmd.arg(format!("--port={port}"))
                .arg(format!(
                    "--log-path={}",
                    profile.path().join("chromedriver.log").display()
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0);
            die_with_parent(&mut cmd);
            let mut driver = cmd
                .spawn()
                .map_err(|e| WdError(format!("start chromedriver: {e}")))?;
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            let ready = crate::wait_for(Duration::from_secs(20), || {
                if matches!(driver.try_wait(), Ok(Some(_))) {
                    return true;
                }
                http::request(addr, "GET", "/status", None)
                    .ok()
                    .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
                    .is_some_and(|v| v["value"]["ready"] == true)
            });
            if !ready || matches!(driver.try_wait(), Ok(Some(_))) {
                kill_group(&mut driver);
                last = format!("chromedriver on port {port} did not become ready");
                continue;
            }
            let mut b = Browser {
                driver,
                addr,
                session: String::new(),
                _profile: profile,
            };
            b.open_session(opts)?;
            return Ok(b);
        }
        Err(WdError(last))
    }

    fn open_session(&mut self, opts: &BrowserOptions) -> WdResult<()> {
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": opts.chromium.display().to_string(),
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            "--disable-dev-shm-usage",
                            "--disable-gpu",
                            "--no-first-run",
                            "--hide-scrollbars",
                            format!("--user-data-dir={}", self._profile.path().join("profile").display()),
                            format!("--window-size={},{}", opts.width, opts.height),
                            "--lang=vi",
                        ],
                    }
                }
            }
        });
        let v = self.call("POST", "/session", Some(&caps))?;
        self.session = v["sessionId"]
            .as_str()
            .ok_or_else(|| WdError(format!("no session id in {v}")))?
            .to_owned();
        self.set_window_size(opts.width, opts.height)
    }

    /// One WebDriver call; returns the reply's `value`, or its error.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> WdResult<Value> {
        let body = match (method, body) {
            ("POST", None) => Some(json!({})),
            (_, b) => b.cloned(),
        };
        let r = http::request(self.addr, method, path, body.as_ref())
            .map_err(|e| WdError(format!("{method} {path}: {e}")))?;
        let v: Value = serde_json::from_slice(&r.body).map_err(|e| {
            WdError(format!(
                "{method} {path}: not JSON ({e}): {}",
                String::from_utf8_lossy(&r.body)
            ))
        })?;
        if r.status != 200 {
            return Err(WdError(format!(
                "{method} {path}: {} {}: {}",
                r.status, v["value"]["error"], v["value"]["message"]
            )));
        }
        Ok(v["value"].clone())
    }

    fn s(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Resizes the window (CSS pixels).
    pub fn set_window_size(&self, width: u32, height: u32) -> WdResult<()> {
        self.call(
            "POST",
            &self.s("/window/rect"),
            Some(&json!({"width": width, "height": height})),
        )
        .map(|_| ())
    }

    /// Opens a URL and waits for the page load.
    pub fn navigate(&self, url: &str) -> WdResult<()> {
        self.call("POST", &self.s("/url"), Some(&json!({ "url": url })))
            .map(|_| ())
    }

    /// The current URL.
    pub fn url(&self) -> WdResult<String> {
        Ok(self
            .call("GET", &self.s("/url"), None)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The page's title.
    pub fn title(&self) -> WdResult<String> {
        Ok(self
            .call("GET", &self.s("/title"), None)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The first element matching a CSS selector.
    pub fn find(&self, css: &str) -> WdResult<Element> {
        let v = self.call(
            "POST",
            &self.s("/element"),
            Some(&json!({"using": "css selector", "value": css})),
        )?;
        element(&v).ok_or_else(|| WdError(format!("no element id for {css}: {v}")))
    }

    /// Every element matching a CSS selector (possibly none).
    pub fn find_all(&self, css: &str) -> WdResult<Vec<Element>> {
        let v = self.call(
            "POST",
            &self.s("/elements"),
            Some(&json!({"using": "css selector", "value": css})),
        )?;
        Ok(v.as_array()
            .map(|a| a.iter().filter_map(element).collect())
            .unwrap_or_default())
    }

    /// Clicks an element.
    pub fn click(&self, e: &Element) -> WdResult<()> {
        self.call("POST", &self.s(&format!("/element/{}/click", e.id)), None)
            .map(|_| ())
    }

    /// Clears an input, then types `text` into it.
    pub fn type_text(&self, e: &Element, text: &str) -> WdResult<()> {
        self.call("POST", &self.s(&format!("/element/{}/clear", e.id)), None)?;
        self.call(
            "POST",
            &self.s(&format!("/element/{}/value", e.id)),
            Some(&json!({ "text": text })),
        )
        .map(|_| ())
    }

    /// An element's visible text.
    pub fn text(&self, e: &Element) -> WdResult<String> {
        Ok(self
            .call("GET", &self.s(&format!("/element/{}/text", e.id)), None)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// An element's attribute, if set.
    pub fn attribute(&self, e: &Element, name: &str) -> WdResult<Option<String>> {
        Ok(self
            .call(
                "GET",
                &self.s(&format!("/element/{}/attribute/{name}", e.id)),
                None,
            )?
            .as_str()
            .map(str::to_owned))
    }

    /// The visible text of the first element matching `css`.
    pub fn text_of(&self, css: &str) -> WdResult<String> {
        let e = self.find(css)?;
        self.text(&e)
    }

    /// Runs JavaScript in the page and returns its value.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> WdResult<Value> {
        self.call(
            "POST",
            &self.s("/execute/sync"),
            Some(&json!({"script": script, "args": args})),
        )
    }

    /// Runs asynchronous JavaScript: the script calls `arguments[arguments.length - 1]`
    /// with its result.
    pub fn execute_async(&self, script: &str, args: Vec<Value>) -> WdResult<Value> {
        self.call(
            "POST",
            &self.s("/execute/async"),
            Some(&json!({"script": script, "args": args})),
        )
    }

    /// Fetches `path` from inside the page (with the page's cookies) and returns its
    /// status and body text: how a test reads a download the page links to.
    pub fn fetch_text(&self, path: &str) -> WdResult<(u16, String)> {
        let v = self.execute_async(
            "const done = arguments[arguments.length - 1];\
             fetch(arguments[0], {credentials: 'same-origin'})\
               .then(r => r.text().then(t => done([r.status, t])))\
               .catch(e => done([0, String(e)]));",
            vec![json!(path)],
        )?;
        Ok((
            v[0].as_u64().unwrap_or(0) as u16,
            v[1].as_str().unwrap_or_default().to_owned(),
        ))
    }

    /// Polls `cond` until it returns `Some`, or fails with `what` after `timeout`.
    /// WebDriver errors inside `cond` (an element not there yet) count as "not yet".
    pub fn wait_until<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut cond: impl FnMut(&Browser) -> WdResult<Option<T>>,
    ) -> WdResult<T> {
        let end = Instant::now() + timeout;
        let mut last = String::new();
        loop {
            match cond(self) {
                Ok(Some(t)) => return Ok(t),
                Ok(None) => {}
                Err(e) => last = e.0,
            }
            if Instant::now() > end {
                return Err(WdError(format!(
                    "timed out after {timeout:?} waiting for {what} (last error: {last})"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until an element matching `css` exists and returns it.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> WdResult<Element> {
        self.wait_until(&format!("element {css}"), timeout, |b| {
            Ok(b.find_all(css)?.into_iter().next())
        })
    }

    /// Takes a screenshot of the viewport as PNG bytes.
    pub fn screenshot(&self) -> WdResult<Vec<u8>> {
        let v = self.call("GET", &self.s("/screenshot"), None)?;
        base64_decode(v.as_str().unwrap_or_default())
            .ok_or_else(|| WdError("screenshot is not base64".into()))
    }

    /// Takes a screenshot of the whole page (not just the viewport) by resizing the window
    /// to the document's height first, then writes it to `path`.
    pub fn save_full_screenshot(&self, path: &Path, width: u32) -> WdResult<()> {
        // Lay the page out at the target width first: a narrower page is taller.
        self.set_window_size(width, 800)?;
        // The window's height includes the browser's own bars: add them to the page's.
        let v = self.execute(
            "return [Math.ceil(document.documentElement.scrollHeight), window.outerHeight - window.innerHeight];",
            vec![],
        )?;
        let h = v[0].as_u64().unwrap_or(900) as u32 + v[1].as_u64().unwrap_or(0) as u32;
        self.set_window_size(width, h.clamp(400, 6000))?;
        let png = self.screenshot()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| WdError(format!("mkdir: {e}")))?;
        }
        std::fs::write(path, png).map_err(|e| WdError(format!("write {}: {e}", path.display())))
    }

    /// Saves a desktop (1280 px) and a phone (390 px) screenshot of the whole current page
    /// as `{dir}/{name}-desktop.png` and `{name}-phone.png`, then resizes back to 1280×900.
    pub fn shoot(&self, dir: &Path, name: &str) -> WdResult<()> {
        self.save_full_screenshot(&dir.join(format!("{name}-desktop.png")), 1280)?;
        self.save_full_screenshot(&dir.join(format!("{name}-phone.png")), 390)?;
        self.set_window_size(1280, 900)
    }

    /// Presses and releases one key (a character, or a code such as [`ARROW_RIGHT`]) in
    /// whatever has the focus, through WebDriver's actions.
    pub fn press_key(&self, key: &str) -> WdResult<()> {
        let actions = json!({"actions": [{
            "type": "key",
            "id": "keyboard",
            "actions": [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}],
        }]});
        self.call("POST", &self.s("/actions"), Some(&actions))?;
        self.call("DELETE", &self.s("/actions"), None).map(|_| ())
    }

    /// Every cookie of the current page.
    pub fn cookies(&self) -> WdResult<Vec<Cookie>> {
        let v = self.call("GET", &self.s("/cookie"), None)?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .map(|c| Cookie {
                        name: c["name"].as_str().unwrap_or_default().to_owned(),
                        value: c["value"].as_str().unwrap_or_default().to_owned(),
                        http_only: c["httpOnly"].as_bool().unwrap_or(false),
                        same_site: c["sameSite"].as_str().map(str::to_owned),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Sets a cookie for the current page's domain.
    pub fn add_cookie(&self, name: &str, value: &str) -> WdResult<()> {
        self.call(
            "POST",
            &self.s("/cookie"),
            Some(&json!({"cookie": {"name": name, "value": value, "path": "/"}})),
        )
        .map(|_| ())
    }

    /// Deletes every cookie of the current page.
    pub fn delete_cookies(&self) -> WdResult<()> {
        self.call("DELETE", &self.s("/cookie"), None).map(|_| ())
    }
}

fn element(v: &Value) -> Option<Element> {
    v[ELEMENT_KEY]
        .as_str()
        .map(|id| Element { id: id.to_owned() })
}

fn kill_group(child: &mut Child) {
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        kill_group(&mut self.driver);
    }
}

/// Decodes standard base64 (with or without padding); `None` on a bad character.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\n' | b'\r' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8h").unwrap(), b"hello!");
        assert_eq!(base64_decode("iVBORw0KGgo=").unwrap()[1..4], *b"PNG");
        assert!(base64_decode("a$").is_none());
    }
}
