//! chromedriver and a headless Chromium session for one test.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver process and one browser session on it; both end when dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    shots: PathBuf,
    test: String,
    taken: usize,
}

impl Browser {
    pub async fn start(test: &str) -> Browser {
        Browser::start_with(test, serde_json::Map::new()).await
    }

    /// A session whose console messages and network events can be read back with
    /// [`Browser::logs`].
    pub async fn start_logging(test: &str) -> Browser {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:loggingPrefs".into(),
            serde_json::json!({"browser": "ALL", "performance": "ALL"}),
        );
        Browser::start_with(test, caps).await
    }

    async fn start_with(
        test: &str,
        mut caps: serde_json::Map<String, serde_json::Value>,
    ) -> Browser {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                std::path::Path::new(path).exists(),
                "the console's browser tests need {path}: apt-get install chromium chromium-driver ({package} is missing)"
            );
        }
        let port = crate::support::free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1024"]
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        let shots =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            client,
            driver,
            shots,
            test: test.to_string(),
            taken: 0,
        }
    }

    /// Go to `url` and keep a screenshot of what it shows, named after the test and `page`.
    pub async fn visit(&mut self, url: &str, page: &str) {
        self.client.goto(url).await.expect("navigate");
        self.shot(page).await;
    }

    pub async fn shot(&mut self, page: &str) {
        self.taken += 1;
        let png = self.client.screenshot().await.expect("a screenshot");
        let name = format!("{}-{:02}-{page}.png", self.test, self.taken);
        std::fs::write(self.shots.join(name), png).unwrap();
    }

    /// The text of the first element matching `css`. A live page may replace the element
    /// between finding and reading it; then it is found again.
    pub async fn text_of(&self, css: &str) -> String {
        let mut tries = 0;
        loop {
            let found = self
                .client
                .find(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("{css}: {e}"));
            match found.text().await {
                Ok(text) => return text,
                Err(e) if tries < 10 && e.to_string().contains("stale element") => tries += 1,
                Err(e) => panic!("{css}: {e}"),
            }
        }
    }

    pub async fn fill(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .send_keys(value)
            .await
            .unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// The entries of one of chromedriver's logs (`browser`: the console, CSP violations
    /// included; `performance`: DevTools events, every network request among them) since
    /// the last read. Needs [`Browser::start_logging`].
    pub async fn logs(&self, kind: &'static str) -> Vec<serde_json::Value> {
        let answer = self
            .client
            .issue_cmd(ReadLog(kind))
            .await
            .unwrap_or_else(|e| panic!("reading the {kind} log: {e}"));
        answer.as_array().cloned().unwrap_or_default()
    }

    /// No `alert`/`confirm`/`prompt` is open: no injected script ran.
    pub async fn assert_no_dialog(&self) {
        assert!(
            self.client.get_alert_text().await.is_err(),
            "a dialog is open: a script ran"
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// chromedriver's log endpoint (`POST /session/{id}/se/log`), which W3C WebDriver leaves out
/// and fantoccini has no call for.
#[derive(Debug)]
struct ReadLog(&'static str);

impl fantoccini::wd::WebDriverCompatibleCommand for ReadLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(serde_json::json!({"type": self.0}).to_string()),
        )
    }
}
