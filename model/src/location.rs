//! Where a borg repository lives: a path on the server, or `user@host:path` /
//! `ssh://user@host:port/path` on a repository host.

/// A parsed repository location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoLocation {
    /// An absolute path on the server itself.
    Local { path: String },
    /// A path on a repository host reached over SSH.
    Remote {
        user: Option<String>,
        host: String,
        port: Option<u16>,
        path: String,
    },
}

impl RepoLocation {
    /// Parses a validated repository path (see `check_repository_path`).
    pub fn parse(s: &str) -> Option<RepoLocation> {
        if s.starts_with('/') {
            return Some(RepoLocation::Local {
                path: s.to_string(),
            });
        }
        let (user_host, port, path) = if let Some(rest) = s.strip_prefix("ssh://") {
            let (authority, p) = rest.split_once('/')?;
            let path = match p.strip_prefix("./") {
                Some(rel) => rel.to_string(),
                None if p.starts_with('~') => p.to_string(),
                None => format!("/{p}"),
            };
            let (uh, port) = match authority.rsplit_once(':') {
                Some((uh, port))
                    if !uh.ends_with(']') || port.chars().all(|c| c.is_ascii_digit()) =>
                {
                    (uh, Some(port.parse().ok()?))
                }
                _ => (authority, None),
            };
            (uh.to_string(), port, path)
        } else {
            let (authority, p) = s.split_once(':')?;
            (authority.to_string(), None, p.to_string())
        };
        let (user, host) = match user_host.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h.to_string()),
            None => (None, user_host),
        };
        if host.is_empty() || path.is_empty() {
            return None;
        }
        Some(RepoLocation::Remote {
            user,
            host,
            port,
            path,
        })
    }

    /// The path as seen on the host that holds the repository.
    pub fn path_on_host(&self) -> &str {
        match self {
            RepoLocation::Local { path } | RepoLocation::Remote { path, .. } => path,
        }
    }

    /// The location borg on another machine uses: `ssh://user@host:port/path`.
    pub fn ssh_url(&self, default_user: &str) -> String {
        match self {
            RepoLocation::Local { path } => path.clone(),
            RepoLocation::Remote {
                user,
                host,
                port,
                path,
            } => {
                let user = user.as_deref().unwrap_or(default_user);
                let port = port.unwrap_or(22);
                let suffix = if path.starts_with('/') {
                    path.clone()
                } else if path.starts_with('~') {
                    format!("/{path}")
                } else {
                    format!("/./{path}")
                };
                format!("ssh://{user}@{host}:{port}{suffix}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(
            RepoLocation::parse("/srv/r"),
            Some(RepoLocation::Local {
                path: "/srv/r".into()
            })
        );
        let r = RepoLocation::parse("borg@backup:/srv/r").unwrap();
        assert_eq!(
            r,
            RepoLocation::Remote {
                user: Some("borg".into()),
                host: "backup".into(),
                port: None,
                path: "/srv/r".into()
            }
        );
        assert_eq!(r.ssh_url("root"), "ssh://borg@backup:22/srv/r");
        let r = RepoLocation::parse("ssh://root@127.0.0.10:2222/./repos/a").unwrap();
        assert_eq!(r.path_on_host(), "repos/a");
        assert_eq!(r.ssh_url("x"), "ssh://root@127.0.0.10:2222/./repos/a");
        let r = RepoLocation::parse("ssh://127.0.0.10:2222/srv/a").unwrap();
        assert_eq!(r.ssh_url("cyborg"), "ssh://cyborg@127.0.0.10:2222/srv/a");
        let r = RepoLocation::parse("backup:~/repo").unwrap();
        assert_eq!(r.ssh_url("root"), "ssh://root@backup:22/~/repo");
    }
}
