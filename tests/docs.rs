//! `stackc docs` on `tests/fixtures_docs/shop`: the data the page embeds
//! (an insta snapshot), the page in a real browser (Debian's headless
//! Chromium: a search, then a node's page with its columns; a description
//! written to break out of the data stays text), `--serve`, selection, and
//! the rules about where the site may be written.
//!
//! The browser tests need Chromium (`apt-get install -y chromium`, which
//! `.ci/run` does); `STACKC_CHROMIUM` names another binary. Without one
//! they fail and say so: never a silent skip.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{repo, stackc};

fn fixture() -> PathBuf {
    repo().join("tests/fixtures_docs/shop")
}

/// `stackc docs <fixture> --out-dir <tmp>/site <args>`: the page's text.
fn docs(tmp: &Path, args: &[&str]) -> String {
    let fixture = fixture();
    let out = tmp.join("site");
    let mut all = vec![
        "docs",
        fixture.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let run = stackc(&all);
    assert!(
        run.status.success(),
        "stackc docs failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read_to_string(out.join("index.html")).expect("the page was written")
}

/// The JSON of the `<script type="application/json" id="...">` block.
fn block(page: &str, id: &str) -> serde_json::Value {
    let open = format!(r#"<script type="application/json" id="{id}">"#);
    let start = page.find(&open).expect("the data block") + open.len();
    let end = start + page[start..].find("</script>").expect("its end");
    serde_json::from_str(&page[start..end]).expect("valid JSON")
}

fn ids(page: &str) -> Vec<String> {
    block(page, "stackc-graph")["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_embedded_data_of_the_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let page = docs(tmp.path(), &[]);
    let data = serde_json::json!({
        "graph": block(&page, "stackc-graph"),
        "details": block(&page, "stackc-details"),
        "test_sql": block(&page, "stackc-test-sql"),
    });
    insta::with_settings!({snapshot_path => "snapshots_docs", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("shop_data", serde_json::to_string_pretty(&data).unwrap());
    });
    // The template's four script elements end, and nothing else does:
    // the description with `</script>` and `<!--` is escaped.
    assert_eq!(page.matches("</script>").count(), 4);
    assert!(!page.contains("<!--"));
    assert!(!page.contains(r#"<img id="injected""#));
    // Deterministic: a second run writes the same bytes.
    assert_eq!(docs(tmp.path(), &[]), page);
}

#[test]
fn a_selection_limits_the_site() {
    let tmp = tempfile::tempdir().unwrap();
    let page = docs(tmp.path(), &["-s", "stg_orders+"]);
    assert_eq!(
        ids(&page),
        [
            "model.shop.customer_orders",
            "model.shop.fct_orders",
            "model.shop.stg_orders"
        ]
    );
    let details = block(&page, "stackc-details");
    // stg_orders' tests come with it (eager indirect selection), and its
    // parents are named though not drawn.
    let stg = &details[2];
    assert_eq!(stg["tests"].as_array().unwrap().len(), 3);
    assert_eq!(
        stg["depends_on"],
        serde_json::json!(["seed.shop.order_statuses", "source.shop.raw.orders"])
    );
    let page = docs(tmp.path(), &["-s", "tag:bi", "--exclude", "fct_orders"]);
    assert_eq!(ids(&page), ["model.shop.customer_orders"]);
}

#[test]
fn the_site_is_never_written_over_a_file_stackc_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "<p>my own page</p>").unwrap();
    std::fs::write(site.join("notes.txt"), "mine").unwrap();
    let fixture = fixture();
    let run = stackc(&[
        "docs",
        fixture.to_str().unwrap(),
        "--out-dir",
        site.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("was not written by stackc: left alone"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(site.join("index.html")).unwrap(),
        "<p>my own page</p>"
    );
    // A page stackc wrote is replaced, and other files stay.
    std::fs::remove_file(site.join("index.html")).unwrap();
    docs(tmp.path(), &[]);
    docs(tmp.path(), &[]);
    assert_eq!(
        std::fs::read_to_string(site.join("notes.txt")).unwrap(),
        "mine"
    );
    // Never into the project's input folders.
    let inside = fixture.join("models/site");
    let run = stackc(&[
        "docs",
        fixture.to_str().unwrap(),
        "--out-dir",
        inside.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("which a compile reads"));
    assert!(!inside.exists());
}

#[test]
fn a_project_with_errors_gets_no_site() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    let broken = repo().join("tests/fixtures/err_e0301_unknown_ref");
    let run = stackc(&[
        "docs",
        broken.to_str().unwrap(),
        "--out-dir",
        site.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("E0301"));
    assert!(!site.exists());
}

// ------------------------------------------------------------------ serve

/// A request to the server, and the status and body of its answer.
fn request(port: u16, head: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("the server listens");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a full head");
    let status_line = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, answer[split + 4..].to_vec())
}

#[test]
fn serve_answers_get_of_the_page_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    let fixture = fixture();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stackc"))
        .args(["docs", fixture.to_str().unwrap(), "--out-dir"])
        .arg(&site)
        .args(["--serve", "--port", "0"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines
            .next()
            .expect("stackc docs --serve says where it serves")
            .unwrap();
        if let Some(rest) = line.strip_prefix("serving the docs at http://127.0.0.1:") {
            break rest.split('/').next().unwrap().parse().unwrap();
        }
    };
    let page = std::fs::read(site.join("index.html")).unwrap();
    let get = |path: &str| request(port, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
    let results = [
        get("/"),
        get("/index.html"),
        get("/../Cargo.toml"),
        get("/%2e%2e/%2e%2e/etc/passwd"),
        request(port, "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
    ];
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(results[0], (200, page.clone()));
    assert_eq!(results[1], (200, page));
    assert_eq!(results[2].0, 404);
    assert_eq!(results[3].0, 404);
    assert_eq!(results[4].0, 405);
}

#[test]
fn port_without_serve_is_a_usage_error() {
    let fixture = fixture();
    let run = stackc(&["docs", fixture.to_str().unwrap(), "--port", "9"]);
    assert_eq!(run.status.code(), Some(2));
}

// ---------------------------------------------------------------- browser

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("STACKC_CHROMIUM") {
        return PathBuf::from(path);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(found) = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        }) {
            return found;
        }
    }
    panic!(
        "no Chromium for the browser tests: install it (`apt-get install -y chromium`, as .ci/run does) \
         or set STACKC_CHROMIUM to a Chromium or Chrome binary"
    );
}

/// The DOM of `url` once its scripts ran, from headless Chromium.
fn dump_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            // Root in CI containers: Chromium's sandbox refuses to start there.
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--window-size=1280,800",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("Chromium starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut dom = String::new();
        let _ = stdout.read_to_string(&mut dom);
        dom
    });
    // Bounded: a shared CI machine is slow, a hung browser is a failure.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            panic!("Chromium did not finish within 180 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = reader.join().unwrap();
    assert!(status.success(), "Chromium failed on {url}: {status}");
    dom
}

fn file_url(path: &Path, fragment: &str) -> String {
    format!(
        "file://{}#{fragment}",
        path.canonicalize().unwrap().display()
    )
}

/// The serialized element whose start tag holds `marker`, up to its end tag.
fn element<'a>(dom: &'a str, marker: &str, tag: &str) -> &'a str {
    let start = dom
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in the page:\n{dom}"));
    let end = start + dom[start..].find(&format!("</{tag}>")).expect("closed");
    &dom[start..end]
}

#[test]
fn in_a_browser_a_search_finds_a_model_whose_page_shows_its_columns() {
    let tmp = tempfile::tempdir().unwrap();
    docs(tmp.path(), &[]);
    let index = tmp.path().join("site/index.html");

    // The search box, as a user types "stg_ord": the model is the first hit.
    let dom = dump_dom(&file_url(&index, "search=stg_ord"));
    let results = element(&dom, r#"<ol id="results""#, "ol");
    assert!(!results.contains(" hidden"), "the results are shown");
    let first = results.find("<a href=\"").expect("a result") + "<a href=\"".len();
    let href = &results[first..first + results[first..].find('"').unwrap()];
    assert_eq!(href, "#node=model.shop.stg_orders");
    assert!(dom.contains(r#"data-search-hits="1""#));

    // Following the result opens the model's page, with its columns.
    let dom = dump_dom(&file_url(&index, &href[1..]));
    let page = element(&dom, r#"id="page""#, "aside");
    assert!(page.contains(r#"data-node="model.shop.stg_orders""#));
    for expected in [
        "<h1>stg_orders</h1>",
        r#"<td class="name">order_id</td><td class="type">bigint</td>"#,
        r#"<td class="name">status</td><td class="type">text</td>"#,
        ">accepted_values<",
        "Orders that carry a known status. {{JS}} is not a placeholder here.",
    ] {
        assert!(
            page.contains(expected),
            "{expected} not in the page:\n{page}"
        );
    }
    assert!(page.contains("seeds.order_statuses"), "the compiled SQL");
    assert!(
        page.contains("{{ ref('order_statuses') }}"),
        "the source SQL"
    );
    // A generic test's SQL, made from the shared text with the model's
    // relation and the test's column.
    assert!(
        page.contains("<pre>select *\nfrom staging.stg_orders\nwhere order_id is null\n</pre>"),
        "the test SQL:\n{page}"
    );
}

#[test]
fn in_a_browser_a_description_that_tries_to_break_out_stays_text() {
    let tmp = tempfile::tempdir().unwrap();
    docs(tmp.path(), &[]);
    let index = tmp.path().join("site/index.html");
    let dom = dump_dom(&file_url(&index, "node=model.shop.stg_customers"));
    let page = element(&dom, r#"id="page""#, "aside");
    assert!(
        page.contains(
            "a description that tries to end the data block: &lt;/script&gt;&lt;img id=\"injected\" src=\"x\"&gt; &lt;!-- and an &amp; for good measure"
        ),
        "{page}"
    );
    assert!(!dom.contains(r#"<img id="injected""#));
    assert!(
        dom.contains(r#"data-ready="1""#),
        "the script ran to its end"
    );
}

#[test]
fn in_a_browser_column_lineage_links_the_upstream_columns() {
    // Put more column lineage into the page's data, as `stackc docs`
    // embeds it, and check what it shows.
    let tmp = tempfile::tempdir().unwrap();
    let page = docs(tmp.path(), &[]);
    let mut details = block(&page, "stackc-details");
    let graph = block(&page, "stackc-graph");
    let at = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|n| n["id"] == "model.shop.customer_orders")
        .unwrap();
    // The page lists each source once and a column's as indices.
    let sources = details[at]["lineage_sources"].as_array_mut().unwrap();
    let first = sources.len();
    sources.push(serde_json::json!({"node": "model.shop.stg_orders", "column": "amount", "kind": "aggregate"}));
    sources
        .push(serde_json::json!({"node": "source.shop.raw.gone", "column": "x", "kind": "copy"}));
    details[at]["columns"][3]["lineage"] = serde_json::json!([first, first + 1]);
    let json = serde_json::to_string(&details)
        .unwrap()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let open = r#"<script type="application/json" id="stackc-details">"#;
    let start = page.find(open).unwrap() + open.len();
    let end = start + page[start..].find("</script>").unwrap();
    let edited = format!("{}{json}{}", &page[..start], &page[end..]);
    let index = tmp.path().join("edited.html");
    std::fs::write(&index, edited).unwrap();
    let dom = dump_dom(&file_url(&index, "node=model.shop.customer_orders"));
    let page = element(&dom, r#"id="page""#, "aside");
    assert!(page.contains("<th>From</th>"), "{page}");
    assert!(
        page.contains(
            r##"<a href="#node=model.shop.stg_orders" title="aggregate">stg_orders.amount</a>"##
        ),
        "{page}"
    );
    assert!(page.contains("(aggregate)"));
    assert!(
        page.contains("source.shop.raw.gone.x"),
        "a node outside the site is named, not linked"
    );
}
