//! Abuse resistance of logins and requests, each a proof of concept expecting a refusal: 30
//! logins hidden in a fragment are refused and counted; a burst of logins does not blow the
//! server's memory; a known email is not locked out for its owner at another address; a 64 MiB
//! anonymous body is refused with 413 without being read; a page of 500 jobs with 10,000 output
//! lines each is refused by the query cost. Clients use several loopback source addresses
//! (127.0.0.x) so that the server sees different callers.

mod support;

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::time::Duration;
use support::rest::basic;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }";

/// A GraphQL call from the loopback source address `ip`; returns the HTTP status too.
async fn gql_from(s: &Server, ip: &str, query: &str, vars: Value) -> Result<(u16, Gql)> {
    let client = reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>()?)
        .build()?;
    let r = client
        .post(format!("{}/graphql", s.url))
        .json(&json!({"query": query, "variables": vars}))
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, Gql(r.json().await?)))
}

async fn login_from(s: &Server, ip: &str, password: &str) -> Result<(u16, Gql)> {
    gql_from(s, ip, LOGIN, json!({"e": ADMIN_EMAIL, "p": password})).await
}

/// A field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`).
fn proc_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// Samples the server's resident memory every 10 ms until stopped; returns the highest value.
fn rss_sampler(
    pid: u32,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<u64>,
) {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut max = 0;
        loop {
            max = max.max(proc_kib(pid, "VmRSS").unwrap_or(0));
            tokio::select! {
                _ = &mut stopped => return max,
                _ = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
        }
    });
    (stop, task)
}

#[tokio::test(flavor = "multi_thread")]
async fn logins_hidden_in_a_fragment_are_refused_and_counted() -> Result<()> {
    let s = Server::start()?;
    // Warm up (first connections, first argon2) before measuring memory.
    s.login().await?;
    let before = proc_kib(s.pid(), "VmRSS")?;
    let (stop, peak) = rss_sampler(s.pid());
    let logins: Vec<String> = (0..30)
        .map(|i| {
            format!("l{i}: login(email: \"{ADMIN_EMAIL}\", password: \"guess-{i}\") {{ token }}")
        })
        .collect();
    let doc = format!(
        "mutation {{ ...Many }} fragment Many on Mutation {{ {} }}",
        logins.join(" ")
    );
    let (_, r) = gql_from(&s, "127.0.0.1", &doc, json!({})).await?;
    ensure!(r.error_code() == Some("VALIDATION"), "{}", r.0);
    ensure!(
        r.error_message().contains("one login per request"),
        "{}",
        r.0
    );
    ensure!(r.0["data"].is_null(), "something ran: {}", r.0);
    // A burst of 30 separate wrong logins from another address: argon2 runs a few at a time.
    let burst = (0..30).map(|i| {
        let s = &s;
        async move { login_from(s, "127.0.0.3", &format!("burst-{i}")).await }
    });
    for r in futures_util::future::join_all(burst).await {
        let (status, g) = r?;
        ensure!(
            matches!(g.error_code(), Some("VALIDATION" | "RATE_LIMITED")),
            "{status} {}",
            g.0
        );
    }
    let _ = stop.send(());
    let peak = peak.await?;
    let after = proc_kib(s.pid(), "VmRSS")?;
    println!(
        "server RSS {before} KiB before, peak {peak} KiB during 30+30 logins, {after} KiB after"
    );
    // Argon2 takes 19 MiB a check: a few run at once, and the memory goes back afterwards.
    let grew_mib = peak.saturating_sub(before) / 1024;
    ensure!(
        grew_mib < 100,
        "resident memory grew by {grew_mib} MiB during the logins"
    );
    let kept_mib = after.saturating_sub(before) / 1024;
    ensure!(
        kept_mib < 32,
        "resident memory kept {kept_mib} MiB after the logins"
    );
    // The 30 refused logins counted: even the right password is now refused from that address.
    let (status, r) = login_from(&s, "127.0.0.1", ADMIN_PASSWORD).await?;
    ensure!(
        status == 429 && r.error_code() == Some("RATE_LIMITED"),
        "{status} {}",
        r.0
    );
    ensure!(
        r.0["errors"][0]["extensions"]["retryAfter"].as_u64() > Some(0),
        "{}",
        r.0
    );
    // The owner logs in from another address.
    let (_, r) = login_from(&s, "127.0.0.2", ADMIN_PASSWORD).await?;
    ensure!(r.data()?["login"]["token"].is_string(), "{}", r.0);
    // Batches are refused as a whole.
    let client = reqwest::Client::new();
    let batch = json!([{"query": "{ ping }"}, {"query": "{ ping }"}]);
    let resp = client
        .post(format!("{}/graphql", s.url))
        .json(&batch)
        .send()
        .await?;
    ensure!(
        resp.status() == 400,
        "a batch was accepted: {}",
        resp.status()
    );
    // Over the websocket too, several logins in one operation are refused.
    let token = login_from(&s, "127.0.0.2", ADMIN_PASSWORD)
        .await?
        .1
        .data()?["login"]["token"]
        .as_str()
        .context("token")?
        .to_string();
    let mut ws = ws::connect(&s, json!({"authorization": format!("Bearer {token}")})).await?;
    ensure!(ws::next_json(&mut ws).await?["type"] == "connection_ack");
    let two = "mutation { a: login(email: \"x@y\", password: \"1\") { token } b: login(email: \"z@y\", password: \"2\") { token } }";
    ws::send(
        &mut ws,
        json!({"id": "1", "type": "subscribe", "payload": {"query": two}}),
    )
    .await?;
    let m = ws::next_json(&mut ws).await?;
    ensure!(m.to_string().contains("one login per request"), "{m}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_known_email_is_not_locked_out_for_its_owner_elsewhere() -> Result<()> {
    let s = Server::start()?;
    // An attacker at 127.0.0.2 who knows the admin's email guesses until refused.
    let mut refused = false;
    for i in 0..12 {
        let (status, r) = login_from(&s, "127.0.0.2", &format!("guess-{i}")).await?;
        match r.error_code() {
            Some("VALIDATION") => ensure!(!refused, "a guess went through after a refusal"),
            Some("RATE_LIMITED") => {
                ensure!(status == 429, "{status}");
                refused = true;
            }
            _ => bail!("{status} {}", r.0),
        }
    }
    ensure!(refused, "twelve wrong guesses were never throttled");
    // The attacker is refused even with the right password...
    let (status, _) = login_from(&s, "127.0.0.2", ADMIN_PASSWORD).await?;
    ensure!(status == 429, "the attacker's address logged in: {status}");
    // ...while the owner, at another address, logs in through GraphQL and REST Basic.
    let (_, r) = login_from(&s, "127.0.0.1", ADMIN_PASSWORD).await?;
    ensure!(r.data()?["login"]["token"].is_string(), "{}", r.0);
    let (code, body) = s
        .rest(
            "GET",
            "/api/v1/me/",
            Some(&basic(ADMIN_EMAIL, ADMIN_PASSWORD)),
            None,
        )
        .await?;
    ensure!(code == 200, "{code} {body}");
    Ok(())
}

/// Sends a POST /graphql of `total` bytes on a raw connection (with a Content-Length, or
/// chunked) while reading the answer; returns its status line.
async fn raw_post(s: &Server, total: usize, chunked: bool) -> Result<String> {
    let addr = s.url.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&addr).await?;
    let (mut rd, mut wr) = stream.into_split();
    let length = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {total}")
    };
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{length}\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let chunk = vec![b'a'; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            if chunked {
                wr.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
            }
            wr.write_all(&chunk).await?;
            if chunked {
                wr.write_all(b"\r\n").await?;
            }
            sent += chunk.len();
        }
        if chunked {
            wr.write_all(b"0\r\n\r\n").await?;
        }
        anyhow::Ok(sent)
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        while !answer.windows(2).any(|w| w == b"\r\n") {
            let n = rd.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(Duration::from_secs(120), read)
        .await
        .context("no answer to the large body")??;
    writer.abort();
    let text = String::from_utf8_lossy(&answer);
    Ok(text.lines().next().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_64_mib_anonymous_body_is_refused_without_being_read() -> Result<()> {
    let s = Server::start()?;
    s.gql(None, "{ ping }", json!({})).await?;
    let before = proc_kib(s.pid(), "VmRSS")?;
    let (stop, peak) = rss_sampler(s.pid());
    let declared = raw_post(&s, 64 << 20, false).await?;
    let chunked = raw_post(&s, 64 << 20, true).await?;
    let _ = stop.send(());
    let peak = peak.await?;
    println!("server RSS {before} KiB before, peak {peak} KiB during two 64 MiB bodies");
    ensure!(
        declared.starts_with("HTTP/1.1 413"),
        "declared length: {declared}"
    );
    ensure!(chunked.starts_with("HTTP/1.1 413"), "chunked: {chunked}");
    let grew_mib = peak.saturating_sub(before) / 1024;
    ensure!(
        grew_mib < 24,
        "resident memory grew by {grew_mib} MiB reading refused bodies"
    );
    // A body under the limit still works.
    let d = s.gql(None, "{ ping }", json!({})).await?;
    ensure!(d.data().is_ok(), "{}", d.0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_of_500_jobs_with_10000_output_lines_is_refused() -> Result<()> {
    let s = Server::start()?;
    let token = s.login().await?;
    let heavy = "{ jobs(first: 500) { nodes { id output(limit: 10000) { seq text } } } }";
    let r = s.gql(Some(&token), heavy, json!({})).await?;
    ensure!(r.0["data"].is_null(), "{}", r.0);
    ensure!(r.error_message().contains("too complex"), "{}", r.0);
    // Through variables too.
    let q = "query($n: Int, $l: Int!) { jobs(first: $n) { nodes { output(limit: $l) { text } } } }";
    let r = s
        .gql(Some(&token), q, json!({"n": 500, "l": 10000}))
        .await?;
    ensure!(r.error_message().contains("too complex"), "{}", r.0);
    // One job's full log, and a page of 500 jobs without their output, are fine.
    let one = "{ job(id: 1) { output(limit: 10000) { at text } } }";
    let r = s.gql(Some(&token), one, json!({})).await?;
    ensure!(!r.error_message().contains("too complex"), "{}", r.0);
    let page = "{ jobs(first: 500) { nodes { id jobType status jobExplanation archiveName launchType exitCode } } }";
    s.ok(&token, page, json!({})).await?;
    Ok(())
}

#[test]
fn the_first_admin_password_is_printed_once_and_never_logged() -> Result<()> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir()?;
    let run = |dir: &std::path::Path| -> Result<(String, String)> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cyborgbackup"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .env_remove("CYBORG_ADMIN_PASSWORD")
            .env("CYBORG_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let out = child.stdout.take().context("stdout")?;
        let mut err = child.stderr.take().context("stderr")?;
        let (listening, started) = std::sync::mpsc::channel();
        let out_t = std::thread::spawn(move || {
            use std::io::BufRead;
            let mut all = String::new();
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if line.starts_with("CyBorgBackup listening on ") {
                    let _ = listening.send(());
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        let err_t = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let up = started.recv_timeout(Duration::from_secs(120));
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        child.wait()?;
        let (out, err) = (
            out_t.join().unwrap_or_default(),
            err_t.join().unwrap_or_default(),
        );
        ensure!(up.is_ok(), "the server did not start:\n{out}\n{err}");
        Ok((out, err))
    };
    let (out, err) = run(dir.path())?;
    let line = err
        .lines()
        .find(|l| l.contains("with the password "))
        .with_context(|| format!("no password on stderr:\n{err}\nstdout:\n{out}"))?;
    let password = line
        .split("with the password ")
        .nth(1)
        .and_then(|p| p.split_whitespace().next())
        .context("password")?
        .to_string();
    ensure!(password.len() >= 16, "{line}");
    ensure!(
        err.matches(&password).count() == 1,
        "printed more than once:\n{err}"
    );
    ensure!(
        !out.contains(&password),
        "the password is in the log:\n{out}"
    );
    ensure!(
        out.contains("first administrator"),
        "the creation is logged:\n{out}"
    );
    // The next start creates nobody and prints nothing.
    let (out2, err2) = run(dir.path())?;
    ensure!(!err2.contains(&password) && !out2.contains(&password));
    Ok(())
}
