//! The Debian package: built by packaging/deb/build.sh from the server image's binary,
//! installed with `dpkg -i` in a Debian container, its unit checked by `systemd-analyze verify`
//! (and scored by `systemd-analyze security`), the unit's command started as the unit's user,
//! a host backed up; `dpkg -r` keeps the data, `dpkg -P` removes it.

use super::api::*;
use super::docker::*;
use super::hosts;
use anyhow::{Context, Result};
use std::process::Command;
use std::time::Duration;

const UNIT: &str = "/lib/systemd/system/cyborgbackup.service";

/// `packaging/deb/build.sh --binary BINARY`: the path of the .deb.
fn build_deb(binary: &str) -> Result<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = run(Command::new("bash")
        .arg(format!("{root}/packaging/deb/build.sh"))
        .args(["--binary", binary, "--out"])
        .arg(format!("{root}/target/docker/deb"))
        .env("DEB_COMPRESSION", "gzip"))?;
    Ok(out
        .trim()
        .lines()
        .last()
        .context("no package path")?
        .to_string())
}

/// The value of `Key=` in the unit.
fn unit_value(unit: &str, key: &str) -> Result<String> {
    unit.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(|v| v.trim().to_string())
        .with_context(|| format!("no {key}= in the unit"))
}

fn exists(c: &Container, path: &str) -> bool {
    c.exec(&["test", "-e", path]).is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_debian_package_installs_runs_as_its_user_and_purges() -> Result<()> {
    let img = images()?;
    let deb = build_deb(&img.binary)?;
    let net = Network::create("deb")?;
    let (repo, web1) = hosts(&img.host, &net)?;
    let host = Container::run(&img.deb, &net, "cyborgserver")?;
    docker(&["cp", &deb, &format!("{}:/tmp/cyborgbackup.deb", host.id())])?;
    let installed = host.exec(&["dpkg", "-i", "/tmp/cyborgbackup.deb"])?;
    assert!(installed.contains("Setting up cyborgbackup"), "{installed}");
    assert_eq!(
        host.exec(&["stat", "-c", "%U %a", "/var/lib/cyborgbackup"])?
            .trim(),
        "cyborgbackup 750"
    );
    assert_eq!(
        host.exec(&[
            "stat",
            "-c",
            "%U:%G %a",
            "/etc/cyborgbackup/cyborgbackup.toml"
        ])?
        .trim(),
        "root:cyborgbackup 640"
    );

    // The unit: verified, and its exposure score reported.
    host.exec(&["systemd-analyze", "verify", UNIT])?;
    let security = host.exec(&[
        "systemd-analyze",
        "security",
        "--offline=true",
        "--no-pager",
        UNIT,
    ])?;
    let score = security
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .context("no exposure level")?
        .to_string();
    eprintln!("systemd-analyze security: {score}");
    let value: f64 = score
        .split(':')
        .nth(1)
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("unreadable score")?;
    assert!(value <= 2.5, "the unit is too exposed: {score}\n{security}");

    // The unit's command as the unit's user (no systemd in the container: started by hand).
    let unit = host.exec(&["cat", UNIT])?;
    let user = unit_value(&unit, "User")?;
    let exec = unit_value(&unit, "ExecStart")?;
    let argv: Vec<&str> = exec.split_whitespace().collect();
    let mut args = vec![
        "exec",
        "-d",
        "-u",
        &user,
        "-w",
        "/var/lib/cyborgbackup",
        "-e",
        "CYBORG_LISTEN=0.0.0.0:8000",
        "-e",
    ];
    let pass = format!("CYBORG_ADMIN_PASSWORD={ADMIN_PASSWORD}");
    args.push(&pass);
    args.push(host.id());
    args.extend(argv.iter().copied());
    docker(&args)?;
    let url = format!("http://{}:8000", host.ip(&net)?);
    let api = Remote::connect(&url, Duration::from_secs(120)).await?;
    let sc = inventory(&api, &[&repo, &web1]).await?;
    let job = api.launch_ok(sc.folders).await?;
    assert_eq!(job["status"], "successful", "{job}");
    assert_eq!(find_needle(&api).await?["total"], 1);
    let owner = host.exec(&[
        "stat",
        "-c",
        "%U",
        "/var/lib/cyborgbackup/cyborgbackup.db",
        "/var/lib/cyborgbackup/master.key",
    ])?;
    assert_eq!(
        owner.lines().collect::<Vec<_>>(),
        ["cyborgbackup", "cyborgbackup"],
        "{owner}"
    );
    host.exec(&["pkill", "-TERM", "-u", &user, "-x", "cyborgbackup"])?;
    host.exec(&["sh", "-c", "for i in $(seq 1 60); do pgrep -x cyborgbackup >/dev/null || exit 0; sleep 1; done; exit 1"])?;

    // dpkg -r keeps data and configuration; dpkg -P removes them.
    host.exec(&["dpkg", "-r", "cyborgbackup"])?;
    assert!(!exists(&host, "/usr/bin/cyborgbackup"));
    for kept in [
        "/var/lib/cyborgbackup/cyborgbackup.db",
        "/var/lib/cyborgbackup/master.key",
        "/etc/cyborgbackup/cyborgbackup.toml",
    ] {
        assert!(exists(&host, kept), "dpkg -r removed {kept}");
    }
    host.exec(&["dpkg", "-P", "cyborgbackup"])?;
    for gone in ["/var/lib/cyborgbackup", "/etc/cyborgbackup"] {
        assert!(!exists(&host, gone), "dpkg -P left {gone}");
    }
    Ok(())
}
