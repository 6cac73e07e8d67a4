//! The SSH transport against real OpenSSH servers on loopback (`scripts/test-hosts.sh`).

mod support;

use executor::ssh::{
    generate_key, wrap_for_relay, ClientKey, HostKeyStore, MemoryHostKeys, Relay, SshTarget,
};
use executor::transport::{Process, RemoteCommand, Transport};
use executor::TransportError;
use model::Secret;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use support::hosts::{TestHosts, REPO, WEB1, WEB2};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// One server key per test binary (decrypting it costs a bcrypt run).
fn server_key() -> Arc<ClientKey> {
    static KEY: OnceLock<Arc<ClientKey>> = OnceLock::new();
    KEY.get_or_init(|| {
        let pass = Secret::new("test passphrase");
        let (pem, _public) = generate_key(&pass, "cyborgbackup@test").unwrap();
        Arc::new(ClientKey::from_openssh(pem.expose(), Some(&pass)).unwrap())
    })
    .clone()
}

fn hosts() -> TestHosts {
    TestHosts::start(&[&server_key().public_openssh()])
}

fn target(h: &TestHosts, ip: &str, user: &str, store: Arc<dyn HostKeyStore>) -> Transport {
    Transport::Ssh(
        SshTarget::new(ip, h.port, user, server_key(), store)
            .with_connect_timeout(Duration::from_secs(5)),
    )
}

fn web1(h: &TestHosts) -> Transport {
    target(h, WEB1, "root", Arc::new(MemoryHostKeys::default()))
}

/// Runs to the end: (stdout, stderr, exit code).
async fn run(t: &Transport, cmd: RemoteCommand) -> (String, String, i32) {
    let mut p = t
        .spawn(&cmd)
        .await
        .unwrap_or_else(|e| panic!("spawn {}: {e}", cmd.display()));
    let (mut out, mut err) = (String::new(), String::new());
    let (a, b) = tokio::join!(
        p.stdout.read_to_string(&mut out),
        p.stderr.read_to_string(&mut err)
    );
    a.unwrap();
    b.unwrap();
    let code = p.wait().await.unwrap();
    (out, err, code)
}

async fn spawn_err(t: &Transport) -> TransportError {
    match t.spawn(&RemoteCommand::new(["true"])).await {
        Ok(_) => panic!("connection unexpectedly succeeded"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn runs_commands_with_truthful_exit_status() {
    let h = hosts();
    let t = web1(&h);
    let (out, _, code) = run(&t, RemoteCommand::new(["hostname"])).await;
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "web1");
    let (out, err, code) = run(
        &t,
        RemoteCommand::new(["sh", "-c", "echo out; echo err >&2; exit 7"]),
    )
    .await;
    assert_eq!((out.as_str(), err.as_str(), code), ("out\n", "err\n", 7));
    let (_, _, code) = run(&t, RemoteCommand::new(["/nonexistent/cmd"])).await;
    assert_eq!(code, 127);
    let (out, _, code) = run(&t, RemoteCommand::new(["sh", "-c", "kill -USR1 $$"])).await;
    assert_eq!(code, 128 + 10, "a signal is reported as 128+signal ({out})");
    let cyborg = target(&h, WEB1, "cyborg", Arc::new(MemoryHostKeys::default()));
    let (out, _, code) = run(&cyborg, RemoteCommand::new(["id", "-un"])).await;
    assert_eq!((out.trim(), code), ("cyborg", 0));
    // Larger output than the in-memory pipes hold flows through.
    let (out, _, code) = run(&t, RemoteCommand::new(["sh", "-c", "seq 1 200000"])).await;
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 200_000);
}

#[tokio::test]
async fn secrets_reach_the_environment_but_never_a_command_line() {
    let h = hosts();
    let t = web1(&h);
    let secret = "s3cr3t-Passphrase value";
    let script =
        r#"printf '%s\n' "$BORG_PASSPHRASE"; tr '\0' ' ' </proc/$$/cmdline; echo; ps -eo args"#;
    let cmd = RemoteCommand::new(["sh", "-c", script])
        .env("PLAIN", "visible")
        .secret("BORG_PASSPHRASE", Secret::new(secret));
    assert!(!cmd.shell_line().unwrap().contains(secret));
    let (out, _, code) = run(&t, cmd).await;
    assert_eq!(code, 0);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some(secret),
        "the secret is in the environment"
    );
    let rest: Vec<&str> = lines.collect();
    assert!(
        rest.iter().any(|l| l.contains("BORG_PASSPHRASE")),
        "own command line shown: {rest:?}"
    );
    assert!(
        rest.iter().all(|l| !l.contains(secret)),
        "secret leaked into a command line: {rest:?}"
    );
}

#[tokio::test]
async fn shell_metacharacters_are_passed_literally() {
    let h = hosts();
    let t = web1(&h);
    let marker = format!("/tmp/pwned-{}", std::process::id());
    let evil = [
        format!("; touch {marker}"),
        format!("$(touch {marker})"),
        format!("`touch {marker}`"),
        format!("'; touch {marker}; echo '"),
        format!("\"; touch {marker}; echo \""),
        format!("a\ntouch {marker}\n"),
        format!("| touch {marker} & touch {marker} && touch {marker}"),
        "${HOME} * ~ \\ #".to_string(),
    ];
    let mut argv = vec!["printf".to_string(), "[%s]".to_string()];
    argv.extend(evil.iter().cloned());
    let (out, _, code) = run(
        &t,
        RemoteCommand::new(argv).env("EVIL", format!("$(touch {marker})")),
    )
    .await;
    assert_eq!(code, 0);
    let expected: String = evil.iter().map(|e| format!("[{e}]")).collect();
    assert_eq!(out, expected);
    let (out, _, _) = run(
        &t,
        RemoteCommand::new(["sh", "-c", "printf %s \"$EVIL\""])
            .env("EVIL", format!("$(touch {marker})")),
    )
    .await;
    assert_eq!(out, format!("$(touch {marker})"));
    assert!(
        !std::path::Path::new(&marker).exists(),
        "a metacharacter was executed"
    );
}

#[tokio::test]
async fn unreachable_hosts_fail_quickly_and_transiently() {
    let t = Transport::Ssh(
        SshTarget::new(
            "127.0.0.99",
            1,
            "root",
            server_key(),
            Arc::new(MemoryHostKeys::default()),
        )
        .with_connect_timeout(Duration::from_secs(2)),
    );
    let started = Instant::now();
    let e = spawn_err(&t).await;
    assert!(matches!(e, TransportError::Unreachable { .. }), "{e}");
    assert!(e.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );

    // A port that accepts TCP but never speaks SSH: the connect timeout applies.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let t = Transport::Ssh(
        SshTarget::new(
            "127.0.0.1",
            port,
            "root",
            server_key(),
            Arc::new(MemoryHostKeys::default()),
        )
        .with_connect_timeout(Duration::from_secs(1)),
    );
    let started = Instant::now();
    let e = spawn_err(&t).await;
    assert!(matches!(e, TransportError::Unreachable { .. }), "{e}");
    assert!(e.is_transient());
    assert!(e.to_string().contains("within"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    drop(silent);
}

#[tokio::test]
async fn a_refused_key_is_not_transient() {
    let h = hosts();
    let pass = Secret::new("x");
    let (pem, _) = generate_key(&pass, "stranger").unwrap();
    let stranger = Arc::new(ClientKey::from_openssh(pem.expose(), Some(&pass)).unwrap());
    let t = Transport::Ssh(SshTarget::new(
        WEB1,
        h.port,
        "root",
        stranger,
        Arc::new(MemoryHostKeys::default()),
    ));
    let e = spawn_err(&t).await;
    assert!(matches!(e, TransportError::AuthRefused { .. }), "{e}");
    assert!(!e.is_transient());
    assert!(e.to_string().contains("authorized_keys"), "{e}");
}

#[tokio::test]
async fn host_keys_are_pinned_and_a_change_needs_acceptance() {
    let h = hosts();
    let data = tempfile::tempdir().unwrap();
    let store = store::Store::open(data.path()).unwrap();
    let t = target(&h, WEB2, "root", Arc::new(store.clone()));
    assert!(store.host_key(WEB2, h.port).unwrap().is_none());
    assert_eq!(run(&t, RemoteCommand::new(["true"])).await.2, 0);
    let pinned = store
        .host_key(WEB2, h.port)
        .unwrap()
        .expect("pinned on first use");
    assert!(pinned.fingerprint.starts_with("SHA256:"));
    assert_eq!(pinned.key_type, "ssh-ed25519");
    assert_eq!(
        run(&t, RemoteCommand::new(["true"])).await.2,
        0,
        "known key accepted"
    );

    h.rekey("web2");
    for _ in 0..2 {
        let e = spawn_err(&t).await;
        let TransportError::HostKeyChanged { expected, got, .. } = &e else {
            panic!("expected a host key change, got {e}")
        };
        assert_eq!(expected, &pinned.fingerprint);
        assert_ne!(got, expected);
        let msg = e.to_string();
        assert!(
            msg.contains(expected.as_str()) && msg.contains(got.as_str()) && msg.contains("accept"),
            "{msg}"
        );
        assert!(!e.is_transient());
    }
    let k = store.host_key(WEB2, h.port).unwrap().unwrap();
    assert_eq!(
        k.fingerprint, pinned.fingerprint,
        "the old pin stays until accepted"
    );
    let pending = k.pending.expect("changed key recorded for acceptance");
    store
        .accept_host_key(WEB2, h.port, "admin@example.com")
        .unwrap();
    assert_eq!(
        run(&t, RemoteCommand::new(["hostname"])).await.0.trim(),
        "web2"
    );
    let k = store.host_key(WEB2, h.port).unwrap().unwrap();
    assert_eq!(k.fingerprint, pending.fingerprint);
    assert_eq!(k.accepted_by.as_deref(), Some("admin@example.com"));
}

#[tokio::test]
async fn stop_ends_a_running_command_promptly() {
    let h = hosts();
    // root sessions run without privilege separation, where sshd ignores signal requests; a
    // non-root user's session honours them. Both must stop.
    for user in ["root", "cyborg"] {
        let t = target(&h, WEB1, user, Arc::new(MemoryHostKeys::default()));
        let mut p = t
            .spawn(&RemoteCommand::new(["sh", "-c", "sleep 60; echo done"]))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        p.stop().await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "stop as {user} took {:?}",
            started.elapsed()
        );
        let mut out = String::new();
        p.stdout.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "", "the command did not finish on its own");
        assert_eq!(
            p.wait().await.unwrap(),
            128 + 15,
            "ended by SIGTERM as {user}"
        );
    }
}

/// Reads the first stdout line of a running process.
async fn first_line(p: &mut Process) -> String {
    let mut line = String::new();
    let mut r = BufReader::new(&mut p.stdout);
    tokio::time::timeout(Duration::from_secs(10), r.read_line(&mut line))
        .await
        .unwrap()
        .unwrap();
    line
}

fn parent_of(pid: u32) -> Option<(u32, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let comm = stat.split('(').nth(1)?.split(')').next()?.to_string();
    let ppid = stat
        .rsplit(')')
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((ppid, comm))
}

#[tokio::test]
async fn a_dropped_connection_ends_wait_with_lost() {
    let h = hosts();
    let t = web1(&h);
    let mut p = t
        .spawn(&RemoteCommand::new([
            "sh",
            "-c",
            "echo $$ $PPID; exec sleep 60",
        ]))
        .await
        .unwrap();
    let line = first_line(&mut p).await;
    let pids: Vec<u32> = line
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    let (sleep_pid, session) = (pids[0], pids[1]);
    // Kill the connection's sshd processes (session and its privileged monitor), not the listener.
    let mut victims = vec![session];
    if let Some((monitor, comm)) = parent_of(session) {
        if comm == "sshd" && monitor != h.listener_pid("web1") && monitor > 1 {
            victims.push(monitor);
        }
    }
    for pid in &victims {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(10), p.wait())
        .await
        .expect("wait() returned");
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &sleep_pid.to_string()])
        .status();
    match r {
        Err(e @ TransportError::Lost { .. }) => assert!(e.is_transient()),
        other => panic!("expected Lost, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_silent_connection_is_lost_after_unanswered_keepalives() {
    let h = hosts();
    let t = Transport::Ssh(
        SshTarget::new(
            WEB1,
            h.port,
            "root",
            server_key(),
            Arc::new(MemoryHostKeys::default()),
        )
        .with_keepalive(Duration::from_millis(500)),
    );
    let mut p = t
        .spawn(&RemoteCommand::new([
            "sh",
            "-c",
            "echo $$ $PPID; exec sleep 60",
        ]))
        .await
        .unwrap();
    let line = first_line(&mut p).await;
    let pids: Vec<u32> = line
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    let (sleep_pid, session) = (pids[0], pids[1]);
    // Freeze the connection's sshd: the socket stays open but nothing answers.
    let mut frozen = vec![session];
    if let Some((monitor, comm)) = parent_of(session) {
        if comm == "sshd" && monitor != h.listener_pid("web1") && monitor > 1 {
            frozen.push(monitor);
        }
    }
    let signal = |sig: &str, pids: &[u32]| {
        for pid in pids {
            let _ = std::process::Command::new("kill")
                .args([sig, &pid.to_string()])
                .status();
        }
    };
    signal("-STOP", &frozen);
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(15), p.wait()).await;
    signal("-KILL", &frozen);
    signal("-CONT", &frozen);
    signal("-KILL", &[sleep_pid]);
    match r.expect("wait() returned") {
        Err(e @ TransportError::Lost { .. }) => assert!(e.is_transient()),
        other => panic!("expected Lost, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_forwarded_agent_holds_one_credential_and_never_the_servers_key() {
    // A second key stands for a repository credential; the hosts accept it too.
    let pair = Arc::new(ClientKey::random().unwrap());
    let h = TestHosts::start(&[&server_key().public_openssh(), &pair.public_openssh()]);
    let t = Transport::Ssh(
        SshTarget::new(
            WEB1,
            h.port,
            "root",
            server_key(),
            Arc::new(MemoryHostKeys::default()),
        )
        .with_forwarded_key(Some(pair.clone())),
    );
    let (out, _, code) = run(&t, RemoteCommand::new(["ssh-add", "-L"])).await;
    assert_eq!(code, 0, "agent reachable: {out}");
    let listed: Vec<&str> = out.lines().collect();
    assert_eq!(listed.len(), 1, "{out}");
    assert!(listed[0].starts_with(&pair.public_key_blob()), "{out}");
    assert!(!out.contains(&server_key().public_key_blob()), "{out}");
    let known = h.known_hosts();
    let ssh = [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        &format!("UserKnownHostsFile={}", known.display()),
        "-p",
        &h.port.to_string(),
        "root@127.0.0.10",
        "hostname",
    ]
    .map(String::from);
    let (out, err, code) = run(&t, RemoteCommand::new(ssh.clone())).await;
    assert_eq!((code, out.trim()), (0, "repo"), "stderr: {err}");
    // The remote side may not change the agent: no removal, no lock, no new key.
    let (_, _, code) = run(&t, RemoteCommand::new(["ssh-add", "-D"])).await;
    assert_ne!(code, 0, "ssh-add -D was accepted");
    let (_, _, code) = run(
        &t,
        RemoteCommand::new([
            "sh",
            "-c",
            "d=$(mktemp -d) && ssh-keygen -q -t ed25519 -N '' -f $d/k && ssh-add $d/k",
        ]),
    )
    .await;
    assert_ne!(code, 0, "ssh-add of a new key was accepted");
    let (out, _, _) = run(&t, RemoteCommand::new(["ssh-add", "-L"])).await;
    assert_eq!(out.lines().count(), 1, "{out}");
    // Without forwarding the same client has no way in.
    let (_, _, code) = run(&web1(&h), RemoteCommand::new(ssh).env("SSH_AUTH_SOCK", "")).await;
    assert_ne!(code, 0);
    // Forwarding the key the server logs in with is refused before connecting.
    let own = Transport::Ssh(
        SshTarget::new(
            WEB1,
            h.port,
            "root",
            server_key(),
            Arc::new(MemoryHostKeys::default()),
        )
        .with_forwarded_key(Some(server_key())),
    );
    match own.spawn(&RemoteCommand::new(["true"])).await {
        Err(e) => assert!(e.to_string().contains("refusing to forward"), "{e}"),
        Ok(_) => panic!("the server's own key was forwarded"),
    }
}

#[tokio::test]
async fn a_relay_joins_a_socket_on_the_client_to_a_command_on_the_repository_host() {
    let h = hosts();
    let store: Arc<dyn HostKeyStore> = Arc::new(MemoryHostKeys::default());
    // An unrestricted key and a plain command stand in for the pair's forced `borg serve`.
    let relay = Relay {
        repository: SshTarget::new(REPO, h.port, "root", server_key(), store.clone()),
        command: "echo \"from $(hostname)\"; tr a-z A-Z".into(),
    };
    let t = Transport::Ssh(
        SshTarget::new(WEB1, h.port, "root", server_key(), store).with_relay(Some(Arc::new(relay))),
    );
    // borg runs `$BORG_RSH host borg serve …`; both the socat and the python relay are tried.
    let script = "echo \"$CYBORG_RELAY_SOCKET\"; hostname; \
        printf 'through socat\\n' | eval \"$BORG_RSH repo borg serve\"; \
        printf 'through python\\n' | python3 -c \"$CYBORG_RELAY_PY\"";
    let cmd = wrap_for_relay(RemoteCommand::new(["sh", "-c", script]));
    let (out, err, code) = run(&t, cmd).await;
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        &lines[1..],
        [
            "web1",
            "from repo",
            "THROUGH SOCAT",
            "from repo",
            "THROUGH PYTHON"
        ],
        "{out}{err}"
    );
    // The socket was the command's own, and is gone with it.
    assert!(lines[0].starts_with("/tmp/cyborg-relay-"), "{out}");
    assert!(!std::path::Path::new(lines[0]).exists());
}
