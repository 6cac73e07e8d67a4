//! Loopback sinks for integration tests: an SMTP server speaking enough ESMTP (EHLO, AUTH PLAIN
//! and LOGIN, MAIL, RCPT, DATA, and optionally STARTTLS or implicit TLS with a throw-away
//! certificate) to receive what lettre sends, and an HTTP server capturing webhook POSTs.
//! Received mail is inspected with `mime.rs`.
#![allow(dead_code)]

use super::mime::{b64decode, header, subject};

use anyhow::{bail, Context, Result};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A message as the SMTP sink received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
    /// `(mechanism, username, password)` when the client authenticated.
    pub auth: Option<(String, String, String)>,
    /// Whether the message travelled over TLS (STARTTLS or implicit).
    pub tls: bool,
}

/// How the SMTP sink uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkTls {
    /// Offers STARTTLS and refuses MAIL before it.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Implicit,
}

/// An SMTP server on 127.0.0.1; with `credentials`, AUTH is required before MAIL.
pub struct SmtpSink {
    pub port: u16,
    pub mails: Arc<Mutex<Vec<ReceivedMail>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    pub async fn start(credentials: Option<(&str, &str)>) -> Result<SmtpSink> {
        Ok(Self::start_with(credentials, None).await?.0)
    }

    /// A sink speaking TLS with a fresh self-signed certificate for 127.0.0.1; returns the
    /// certificate's PEM for the client to trust.
    pub async fn start_tls(
        credentials: Option<(&str, &str)>,
        mode: SinkTls,
    ) -> Result<(SmtpSink, String)> {
        let (sink, pem) = Self::start_with(credentials, Some(mode)).await?;
        Ok((sink, pem.context("no certificate")?))
    }

    async fn start_with(
        credentials: Option<(&str, &str)>,
        mode: Option<SinkTls>,
    ) -> Result<(SmtpSink, Option<String>)> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let creds = credentials.map(|(u, p)| (u.to_string(), p.to_string()));
        let (acceptor, pem) = match mode {
            Some(_) => {
                let (a, pem) = tls_acceptor()?;
                (Some(a), Some(pem))
            }
            None => (None, None),
        };
        let m = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let st = Session {
                    mails: m.clone(),
                    creds: creds.clone(),
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, st, acceptor, mode).await;
                });
            }
        });
        Ok((SmtpSink { port, mails, task }, pem))
    }

    /// Waits until at least `n` mails arrived.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<ReceivedMail>> {
        let start = Instant::now();
        loop {
            let got = self.mails.lock().map(|m| m.clone()).unwrap_or_default();
            if got.len() >= n {
                return Ok(got);
            }
            if start.elapsed() > timeout {
                bail!(
                    "{} mails after {timeout:?}, wanted {n}: {:?}",
                    got.len(),
                    got.iter()
                        .map(|m| (&m.to, subject(&m.data)))
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn all(&self) -> Vec<ReceivedMail> {
        self.mails.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// What every connection of a sink shares.
#[derive(Clone)]
struct Session {
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    creds: Option<(String, String)>,
}

/// How one SMTP conversation ended.
enum End<S> {
    Closed,
    /// The client asked for STARTTLS: the plain stream, to be wrapped.
    StartTls(S),
}

async fn serve(
    sock: tokio::net::TcpStream,
    st: Session,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    mode: Option<SinkTls>,
) -> Result<()> {
    match (mode, acceptor) {
        (Some(SinkTls::Implicit), Some(a)) => {
            let tls = a.accept(sock).await?;
            session(tls, &st, Phase::Secure { greet: true }).await?;
        }
        (Some(SinkTls::StartTls), Some(a)) => {
            if let End::StartTls(sock) =
                session(sock, &st, Phase::Plain { offer_tls: true }).await?
            {
                let tls = a.accept(sock).await?;
                session(tls, &st, Phase::Secure { greet: false }).await?;
            }
        }
        _ => {
            session(sock, &st, Phase::Plain { offer_tls: false }).await?;
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Phase {
    Plain {
        offer_tls: bool,
    },
    /// After STARTTLS (no new greeting) or implicit TLS (greeting).
    Secure {
        greet: bool,
    },
}

/// A throw-away CA-less self-signed certificate for 127.0.0.1 and localhost.
fn tls_acceptor() -> Result<(tokio_rustls::TlsAcceptor, String)> {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])?;
    let pem = ck.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)?;
    Ok((tokio_rustls::TlsAcceptor::from(Arc::new(config)), pem))
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    st: &Session,
    phase: Phase,
) -> Result<End<S>> {
    let (mails, creds) = (&st.mails, &st.creds);
    let secure = matches!(phase, Phase::Secure { .. });
    let offer_tls = matches!(phase, Phase::Plain { offer_tls: true });
    let mut r = BufReader::new(stream);
    if !matches!(phase, Phase::Secure { greet: false }) {
        r.get_mut()
            .write_all(b"220 sink.test ESMTP ready\r\n")
            .await?;
    }
    let mut auth: Option<(String, String, String)> = None;
    let mut from = String::new();
    let mut to = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(End::Closed);
        }
        let line = line.trim_end().to_string();
        let upper = line.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            if offer_tls {
                "250-sink.test\r\n250-STARTTLS\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n".into()
            } else {
                "250-sink.test\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n".into()
            }
        } else if upper == "STARTTLS" && offer_tls {
            r.get_mut()
                .write_all(b"220 2.0.0 ready to start TLS\r\n")
                .await?;
            return Ok(End::StartTls(r.into_inner()));
        } else if offer_tls && (upper.starts_with("AUTH") || upper.starts_with("MAIL")) {
            "530 5.7.0 Must issue a STARTTLS command first\r\n".into()
        } else if upper.starts_with("AUTH PLAIN") {
            let arg = line.get(10..).unwrap_or("").trim().to_string();
            let arg = if arg.is_empty() {
                r.get_mut().write_all(b"334 \r\n").await?;
                let mut l = String::new();
                r.read_line(&mut l).await?;
                l.trim().to_string()
            } else {
                arg
            };
            let dec = b64decode(&arg);
            let parts: Vec<&[u8]> = dec.split(|b| *b == 0).collect();
            let user = String::from_utf8_lossy(parts.get(1).copied().unwrap_or(b"")).to_string();
            let pass = String::from_utf8_lossy(parts.get(2).copied().unwrap_or(b"")).to_string();
            check_auth(creds, "PLAIN", user, pass, &mut auth)
        } else if upper.starts_with("AUTH LOGIN") {
            r.get_mut().write_all(b"334 VXNlcm5hbWU6\r\n").await?;
            let mut u = String::new();
            r.read_line(&mut u).await?;
            r.get_mut().write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
            let mut p = String::new();
            r.read_line(&mut p).await?;
            let user = String::from_utf8_lossy(&b64decode(u.trim())).to_string();
            let pass = String::from_utf8_lossy(&b64decode(p.trim())).to_string();
            check_auth(creds, "LOGIN", user, pass, &mut auth)
        } else if upper.starts_with("MAIL FROM:") {
            if creds.is_some() && auth.is_none() {
                "530 5.7.0 Authentication required\r\n".into()
            } else {
                from = addr(&line[10..]);
                to.clear();
                "250 OK\r\n".into()
            }
        } else if upper.starts_with("RCPT TO:") {
            to.push(addr(&line[8..]));
            "250 OK\r\n".into()
        } else if upper == "DATA" {
            r.get_mut()
                .write_all(b"354 end with <CRLF>.<CRLF>\r\n")
                .await?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).await? == 0 {
                    return Ok(End::Closed);
                }
                if l == ".\r\n" || l == ".\n" {
                    break;
                }
                data.push_str(
                    l.strip_prefix('.')
                        .filter(|_| l.starts_with(".."))
                        .unwrap_or(&l),
                );
            }
            if let Ok(mut m) = mails.lock() {
                m.push(ReceivedMail {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                    auth: auth.clone(),
                    tls: secure,
                });
            }
            "250 2.0.0 queued\r\n".into()
        } else if upper == "QUIT" {
            r.get_mut().write_all(b"221 bye\r\n").await?;
            return Ok(End::Closed);
        } else if upper == "RSET" || upper == "NOOP" {
            "250 OK\r\n".into()
        } else {
            "502 command not implemented\r\n".into()
        };
        r.get_mut().write_all(reply.as_bytes()).await?;
    }
}

fn check_auth(
    creds: &Option<(String, String)>,
    mech: &str,
    user: String,
    pass: String,
    auth: &mut Option<(String, String, String)>,
) -> String {
    match creds {
        Some((u, p)) if *u == user && *p == pass => {
            *auth = Some((mech.into(), user, pass));
            "235 2.7.0 Authentication successful\r\n".into()
        }
        Some(_) => "535 5.7.8 Authentication credentials invalid\r\n".into(),
        None => {
            *auth = Some((mech.into(), user, pass));
            "235 2.7.0 Authentication successful\r\n".into()
        }
    }
}

fn addr(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or("")
        .to_string()
}

/// A webhook request as captured.
#[derive(Debug, Clone)]
pub struct Captured {
    pub head: String,
    pub body: String,
}

/// An HTTP server on 127.0.0.1 answering 200 to every request and keeping them.
pub struct HttpSink {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Captured>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpSink {
    pub async fn start() -> Result<HttpSink> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let reqs = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let reqs = reqs.clone();
                tokio::spawn(async move {
                    let mut r = BufReader::new(sock);
                    let mut head = String::new();
                    loop {
                        let mut l = String::new();
                        if r.read_line(&mut l).await.unwrap_or(0) == 0 || l == "\r\n" {
                            break;
                        }
                        head.push_str(&l);
                    }
                    let len = header(&head.to_string(), "content-length")
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    let mut body = vec![0u8; len];
                    let _ = r.read_exact(&mut body).await;
                    if let Ok(mut q) = reqs.lock() {
                        q.push(Captured {
                            head,
                            body: String::from_utf8_lossy(&body).to_string(),
                        });
                    }
                    let _ = r
                        .get_mut()
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                });
            }
        });
        Ok(HttpSink {
            url,
            requests,
            task,
        })
    }

    pub fn all(&self) -> Vec<Captured> {
        self.requests.lock().map(|m| m.clone()).unwrap_or_default()
    }
}
