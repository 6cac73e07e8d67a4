//! What `borg create` reads for each policy type: paths, one producer piped into
//! `borg create --stdin-name NAME … -`, or several producers read through named pipes.

use model::{Secret, TypedVars};

/// What `borg create` reads for a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateSpec {
    pub paths: Vec<String>,
    pub excludes: Vec<String>,
    /// For pipe types: the producer whose stdout becomes the archive's single file.
    pub pipe: Option<Pipe>,
    /// For several producers in one archive (one file per producer, e.g. per VM).
    pub streams: Option<Streams>,
}

impl CreateSpec {
    /// Secret environment of the producers (to scrub from logs).
    pub fn secrets(&self) -> impl Iterator<Item = &Secret> {
        let pipe = self.pipe.iter().flat_map(|p| p.secrets.iter());
        let streams = self.streams.iter().flat_map(|s| s.secrets.iter());
        pipe.chain(streams).map(|(_, v)| v)
    }

    /// What the producers make, for messages (`mysql.sql`, `the vzdump streams`).
    pub fn source_name(&self) -> &str {
        match (&self.pipe, &self.streams) {
            (Some(p), _) => &p.stdin_name,
            (None, Some(s)) => &s.what,
            (None, None) => "the archive",
        }
    }
}

/// A command whose output borg stores (`borg create --stdin-name NAME … -`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipe {
    /// A shell fragment (built from quoted argument lists, or the administrator's own command).
    pub producer: String,
    /// File name of the stream inside the archive.
    pub stdin_name: String,
    /// Secret environment for the producer (database passwords), delivered over stdin.
    pub secrets: Vec<(String, Secret)>,
}

/// Several producers stored as files of one archive. `setup` is a bash fragment that fills the
/// array `names` (file names inside the archive, plain names without '/') and defines a function
/// `produce INDEX` writing stream INDEX to stdout. borg reads the streams one after the other
/// through named pipes (`--read-special`), so producers run in turn, never all at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streams {
    pub setup: String,
    /// What the streams are, for messages.
    pub what: String,
    pub secrets: Vec<(String, Secret)>,
}

/// Exit status of a pipe job whose producer failed (borg's own status is logged).
pub const PRODUCER_FAILED: i32 = 90;

/// Error for the vm type, whose sources come from its VM module provider ([`crate::vm::plan`]).
#[derive(Debug, thiserror::Error)]
#[error(
    "policy type vm is backed up through the VM module provider named by the policy's vmprovider"
)]
pub struct Unsupported;

/// Quotes an argument list into one shell line.
pub(crate) fn quoted(argv: &[&str]) -> String {
    argv.iter()
        .map(|a| {
            shlex::try_quote(a)
                .map(|c| c.into_owned())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn paths(paths: &[&str]) -> CreateSpec {
    CreateSpec {
        paths: paths.iter().map(|s| s.to_string()).collect(),
        excludes: vec![],
        pipe: None,
        streams: None,
    }
}

/// A spec made of one producer.
pub(crate) fn piped(
    producer: String,
    stdin_name: &str,
    secrets: Vec<(String, Secret)>,
) -> CreateSpec {
    CreateSpec {
        paths: vec![],
        excludes: vec![],
        pipe: Some(Pipe {
            producer,
            stdin_name: stdin_name.into(),
            secrets,
        }),
        streams: None,
    }
}

/// Sources of a policy: file paths, or producer commands for pipe types.
pub fn create_spec(vars: &TypedVars) -> Result<CreateSpec, Unsupported> {
    Ok(match vars {
        TypedVars::Config => paths(&["/etc"]),
        TypedVars::Folders { folders, exclude } => CreateSpec {
            paths: folders.clone(),
            excludes: exclude.clone(),
            pipe: None,
            streams: None,
        },
        TypedVars::Rootfs { exclude } => {
            let mut excludes: Vec<String> = [
                "/dev",
                "/proc",
                "/sys",
                "/run",
                "/tmp",
                "/mnt",
                "/media",
                "/lost+found",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            excludes.extend(exclude.iter().cloned());
            CreateSpec {
                paths: vec!["/".into()],
                excludes,
                pipe: None,
                streams: None,
            }
        }
        TypedVars::Mail => paths(&["/var/mail", "/var/lib/mail"]),
        TypedVars::Mysql {
            user,
            password,
            databases,
            host,
            port,
        } => mysql(user, password, databases, host, port),
        TypedVars::Postgresql { database } => {
            let dump = match database {
                Some(db) => quoted(&["pg_dump", "--clean", "--if-exists", "--create", db]),
                None => quoted(&["pg_dumpall", "--clean", "--if-exists"]),
            };
            // As root, dump as the postgres superuser (peer authentication).
            let producer = format!(
                "if [ \"$(id -u)\" = 0 ] && id postgres >/dev/null 2>&1; then cd / && runuser -u postgres -- {dump}; else {dump}; fi"
            );
            let name = database
                .as_deref()
                .map_or("postgresql-all.sql".to_string(), |d| {
                    format!("postgresql-{d}.sql")
                });
            piped(producer, &name, vec![])
        }
        TypedVars::Piped { command } => piped(command.clone(), "piped", vec![]),
        TypedVars::Proxmox { vmids, mode } => proxmox(vmids, mode),
        TypedVars::Vm => return Err(Unsupported),
    })
}

fn mysql(
    user: &Option<String>,
    password: &Option<String>,
    databases: &[String],
    host: &Option<String>,
    port: &Option<u16>,
) -> CreateSpec {
    let port = port.map(|p| p.to_string());
    // No `--events`: the documented backup grant (SELECT, LOCK TABLES) does not allow it.
    let mut argv = vec![
        "mysqldump",
        "--single-transaction",
        "--routines",
        "--triggers",
    ];
    for (flag, v) in [
        ("--user", user.as_deref()),
        ("--host", host.as_deref()),
        ("--port", port.as_deref()),
    ] {
        if let Some(v) = v {
            argv.push(flag);
            argv.push(v);
        }
    }
    if port.is_some() && host.is_none() {
        argv.push("--protocol=tcp");
    }
    if databases.is_empty() {
        argv.push("--all-databases");
    } else {
        argv.push("--databases");
        argv.extend(databases.iter().map(String::as_str));
    }
    // mysqldump reads MYSQL_PWD from its environment: never on a command line, never in a file.
    let secrets = password
        .iter()
        .map(|p| ("MYSQL_PWD".to_string(), Secret::new(p.clone())))
        .collect();
    let name = match databases {
        [one] => format!("mysql-{one}.sql"),
        _ => "mysql.sql".to_string(),
    };
    piped(quoted(&argv), &name, secrets)
}

/// `vzdump ID --stdout --mode MODE` for each guest (every guest of the node when none is
/// listed), one file per guest in one archive, named as vzdump names its own dumps:
/// `vzdump-qemu-ID.vma` for a VM, `vzdump-lxc-ID.tar` for a container.
fn proxmox(vmids: &[String], mode: &str) -> CreateSpec {
    let ids = if vmids.is_empty() {
        "ids=()\nfor f in /etc/pve/qemu-server/*.conf /etc/pve/lxc/*.conf; do\n  [ -e \"$f\" ] || continue\n  b=${f##*/}; ids+=(\"${b%.conf}\")\ndone\n".to_string()
    } else {
        let list: Vec<&str> = vmids.iter().map(String::as_str).collect();
        format!("ids=({})\n", quoted(&list))
    };
    let setup = format!(
        "{ids}names=()\nfor id in \"${{ids[@]}}\"; do\n  if [ -e \"/etc/pve/lxc/$id.conf\" ]; then names+=(\"vzdump-lxc-$id.tar\"); \
         else names+=(\"vzdump-qemu-$id.vma\"); fi\ndone\nproduce() {{ vzdump \"${{ids[$1]}}\" --stdout --mode {}; }}\n",
        quoted(&[mode])
    );
    CreateSpec {
        paths: vec![],
        excludes: vec![],
        pipe: None,
        streams: Some(Streams {
            setup,
            what: "the vzdump streams".into(),
            secrets: vec![],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_password_is_a_secret_never_an_argument() {
        let vars = TypedVars::Mysql {
            user: Some("backup user".into()),
            password: Some("s3cret pw".into()),
            databases: vec!["db;1".into()],
            host: None,
            port: Some(3307),
        };
        let spec = create_spec(&vars).unwrap();
        let p = spec.pipe.as_ref().unwrap();
        assert!(!p.producer.contains("s3cret"));
        assert!(
            p.producer.contains("--user 'backup user'") && p.producer.contains("'db;1'"),
            "{}",
            p.producer
        );
        assert!(
            p.producer.contains("--port 3307 '--protocol=tcp'"),
            "{}",
            p.producer
        );
        assert_eq!(p.stdin_name, "mysql-db;1.sql");
        assert_eq!(
            spec.secrets()
                .map(|s| s.expose().to_string())
                .collect::<Vec<_>>(),
            ["s3cret pw"]
        );
    }

    #[test]
    fn proxmox_streams_quote_ids_and_mode() {
        let spec = create_spec(&TypedVars::Proxmox {
            vmids: vec!["100".into(), "101".into()],
            mode: "snapshot".into(),
        })
        .unwrap();
        let s = spec.streams.as_ref().unwrap();
        assert!(s.setup.starts_with("ids=(100 101)\n"), "{}", s.setup);
        assert!(
            s.setup
                .contains("vzdump \"${ids[$1]}\" --stdout --mode snapshot"),
            "{}",
            s.setup
        );
        assert_eq!(spec.source_name(), "the vzdump streams");
        let all = create_spec(&TypedVars::Proxmox {
            vmids: vec![],
            mode: "stop".into(),
        })
        .unwrap();
        assert!(all
            .streams
            .unwrap()
            .setup
            .contains("/etc/pve/qemu-server/*.conf"));
    }

    #[test]
    fn vm_needs_its_provider() {
        assert!(matches!(create_spec(&TypedVars::Vm), Err(Unsupported)));
    }
}
