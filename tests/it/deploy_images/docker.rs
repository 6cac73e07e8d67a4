//! Docker for the deployment tests: the images (built once per test binary by
//! `scripts/docker-images.sh server <the test run's binary>`, which reuses what exists), a private network per test,
//! containers removed when dropped, and Compose (the `docker compose` plugin, or Compose v1's
//! `docker-compose`).

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Images and the binary they hold.
#[derive(Debug, Clone)]
pub struct Images {
    /// Built from docker/Dockerfile.
    pub server: String,
    /// sshd + borg: repository hosts and clients.
    pub host: String,
    /// Debian with systemd's tools, for the package.
    pub deb: String,
    /// The binary of the server image (the test run's, stripped): the .deb packages it.
    pub binary: String,
}

fn build_images() -> Result<Images> {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{root}/scripts/docker-images.sh"))
        .arg("server")
        .arg(env!("CARGO_BIN_EXE_cyborgbackup"))
        .stderr(Stdio::inherit())
        .output()
        .context("running scripts/docker-images.sh")?;
    if !out.status.success() {
        bail!("scripts/docker-images.sh server failed");
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let get = |k: &str| -> Result<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
            .with_context(|| format!("docker-images.sh printed no {k}"))
    };
    Ok(Images {
        server: get("SERVER_IMAGE")?,
        host: get("HOST_IMAGE")?,
        deb: get("DEB_IMAGE")?,
        binary: get("BINARY")?,
    })
}

/// The images, built by the first test that asks (the others wait for it).
pub fn images() -> Result<Images> {
    static IMAGES: OnceLock<Result<Images, String>> = OnceLock::new();
    IMAGES
        .get_or_init(|| build_images().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

/// Runs a command; its stdout, or an error with its output.
pub fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn docker(args: &[&str]) -> Result<String> {
    run(Command::new("docker").args(args))
}

/// A name unique to this test run.
pub fn unique(what: &str) -> String {
    format!("cyborgtest-{}-{what}", std::process::id())
}

/// A user-defined bridge network: containers reach each other by alias.
pub struct Network {
    pub name: String,
}

impl Network {
    pub fn create(what: &str) -> Result<Network> {
        let name = unique(what);
        let _ = docker(&["network", "rm", &name]);
        docker(&["network", "create", &name])?;
        Ok(Network { name })
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = docker(&["network", "rm", &self.name]);
    }
}

/// A container, removed with its volumes when dropped.
pub struct Container {
    pub name: String,
}

impl Container {
    /// `docker run -d` on `net` with `alias` as its network name and hostname.
    pub fn run(image: &str, net: &Network, alias: &str) -> Result<Container> {
        // Unique per network: two tests may both run a `repo` and a `web1`.
        let name = format!("{}-{alias}", net.name);
        let _ = docker(&["rm", "-f", "-v", &name]);
        docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--hostname",
            alias,
            "--network",
            &net.name,
            "--network-alias",
            alias,
            image,
        ])?;
        Ok(Container { name })
    }

    /// A container some other tool (Compose) made; not removed on drop.
    pub fn existing(name: &str) -> Container {
        Container {
            name: format!("!{name}"),
        }
    }

    pub fn id(&self) -> &str {
        self.name.trim_start_matches('!')
    }

    pub fn exec(&self, argv: &[&str]) -> Result<String> {
        run(Command::new("docker").args(["exec", self.id()]).args(argv))
    }

    /// Runs `argv` with `input` on its stdin.
    pub fn exec_stdin(&self, argv: &[&str], input: &str) -> Result<String> {
        let mut child = Command::new("docker")
            .args(["exec", "-i", self.id()])
            .args(argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        child
            .stdin
            .take()
            .context("no stdin")?
            .write_all(input.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "{argv:?} in {}: {}",
                self.id(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The container's address on `net`.
    pub fn ip(&self, net: &Network) -> Result<String> {
        let f = format!(
            "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
            net.name
        );
        let ip = docker(&["inspect", "-f", &f, self.id()])?
            .trim()
            .to_string();
        anyhow::ensure!(
            !ip.is_empty() && ip != "<no value>",
            "{} has no address on {}",
            self.id(),
            net.name
        );
        Ok(ip)
    }

    pub fn connect(&self, net: &Network, alias: &str) -> Result<()> {
        docker(&["network", "connect", "--alias", alias, &net.name, self.id()])?;
        Ok(())
    }

    pub fn disconnect(&self, net: &Network) -> Result<()> {
        docker(&["network", "disconnect", &net.name, self.id()])?;
        Ok(())
    }

    pub fn logs(&self) -> String {
        Command::new("docker")
            .args(["logs", "--tail", "200", self.id()])
            .output()
            .map(|o| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                )
            })
            .unwrap_or_default()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if !self.name.starts_with('!') {
            let _ = docker(&["rm", "-f", "-v", &self.name]);
        }
    }
}

/// A Compose project; `down -v` when dropped.
pub struct Compose {
    pub project: String,
    file: String,
    env: Vec<(String, String)>,
}

/// `docker compose` when the plugin is there, else Compose v1's `docker-compose`.
fn compose_command() -> Command {
    let plugin = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if plugin {
        let mut c = Command::new("docker");
        c.arg("compose");
        c
    } else {
        Command::new("docker-compose")
    }
}

impl Compose {
    pub fn new(what: &str, env: &[(&str, &str)]) -> Compose {
        Compose {
            project: unique(what).replace('-', ""),
            file: format!("{}/docker/compose.yaml", env!("CARGO_MANIFEST_DIR")),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Result<String> {
        let mut c = compose_command();
        c.args(["-p", &self.project, "-f", &self.file]).args(args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        run(&mut c)
    }

    /// The container of a service.
    pub fn container(&self, service: &str) -> Result<Container> {
        let id = self.run(&["ps", "-q", service])?.trim().to_string();
        anyhow::ensure!(!id.is_empty(), "no container for {service}");
        Ok(Container::existing(&id))
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        let _ = self.run(&["down", "-v", "--timeout", "10"]);
    }
}
