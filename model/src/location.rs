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
    /// Parses a repository location that passed [`RepoLocation::parse_checked`]; `None` for
    /// anything that would not (a stored location is checked again before every use).
    pub fn parse(s: &str) -> Option<RepoLocation> {
        Self::parse_checked(s).ok()
    }

    /// Parses and checks a repository location. Every part that reaches `ssh` or `borg` as an
    /// argument is checked: a user, host or path starting with `-` would be read as an option
    /// (`ssh://-oProxyCommand=…@host/x` runs a command on the client), so the error names the
    /// refused part and its value.
    pub fn parse_checked(s: &str) -> Result<RepoLocation, String> {
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.len() > 1024 {
            return Err("must be at most 1024 characters".into());
        }
        if s.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        if s.starts_with('/') {
            check_path(s)?;
            return Ok(RepoLocation::Local {
                path: s.to_string(),
            });
        }
        let (user_host, port, path) = if let Some(rest) = s.strip_prefix("ssh://") {
            let (authority, p) = rest
                .split_once('/')
                .filter(|(_, p)| !p.is_empty())
                .ok_or("ssh:// URL needs a path after the host")?;
            let path = match p.strip_prefix("./") {
                Some(rel) => rel.to_string(),
                None if p.starts_with('~') => p.to_string(),
                None => format!("/{p}"),
            };
            let (uh, port) = match authority.rsplit_once(':') {
                Some((uh, port)) if !authority.ends_with(']') => (uh, Some(check_port(port)?)),
                _ => (authority, None),
            };
            (uh.to_string(), port, path)
        } else {
            let (authority, p) = s
                .split_once(':')
                .ok_or("must be an absolute path or a borg location like user@host:/path")?;
            (authority.to_string(), None, p.to_string())
        };
        let (user, host) = match user_host.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h.to_string()),
            None => (None, user_host),
        };
        if let Some(u) = &user {
            crate::validate::user_name_problem(u)
                .map_or(Ok(()), |why| Err(format!("user {u:?} {why}")))?;
        }
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&host);
        if let Some(why) = crate::validate::hostname_problem(bare) {
            return Err(format!("host {host:?} {why}"));
        }
        if path.is_empty() {
            return Err("needs a path after the host".into());
        }
        check_path(&path)?;
        Ok(RepoLocation::Remote {
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

/// A repository path on its host: never read as an option, never split as `REPO::ARCHIVE`.
fn check_path(path: &str) -> Result<(), String> {
    if path.starts_with('-') {
        return Err(format!("path {path:?} must not start with '-'"));
    }
    if path.contains("::") {
        return Err(format!(
            "path {path:?} must not contain '::' (borg's archive separator)"
        ));
    }
    Ok(())
}

fn check_port(port: &str) -> Result<u16, String> {
    match port.parse::<u16>() {
        Ok(p) if p > 0 && port.chars().all(|c| c.is_ascii_digit()) => Ok(p),
        _ => Err(format!(
            "port {port:?} must be a number between 1 and 65535"
        )),
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
    #[test]
    fn refuses_what_ssh_or_borg_would_read_as_an_option() {
        for (bad, part) in [
            (
                "ssh://-oProxyCommand=touch${IFS}/tmp/pwned@127.0.0.10/x",
                "host",
            ),
            ("ssh://-oProxyCommand=touch${IFS}pwned@127.0.0.10/x", "user"),
            ("-oProxyCommand=touch${IFS}/tmp/pwned@127.0.0.10:/x", "user"),
            ("ssh://root@-oProxyCommand=id/x", "host"),
            ("root@-p1:/x", "host"),
            ("root@backup:-rf", "path"),
            ("ssh://root@backup/./-x", "path"),
            ("ssh://root@backup:22x/x", "port"),
            ("ssh://root@backup:0/x", "port"),
            ("ssh://a b@backup/x", "user"),
            ("ssh://r;id@backup/x", "user"),
            ("backup:/srv/a::b", "path"),
            ("/srv/a::b", "path"),
            ("ssh://backup/", "path"),
            ("backup:", "path"),
            ("b\nx:/r", "control"),
        ] {
            let err = RepoLocation::parse_checked(bad).expect_err(bad);
            assert!(err.contains(part), "{bad}: {err}");
            assert!(RepoLocation::parse(bad).is_none());
        }
        let err = RepoLocation::parse_checked("ssh://-oProxyCommand=x@h/p").unwrap_err();
        assert!(
            err.contains("\"-oProxyCommand=x\""),
            "the value is named: {err}"
        );
        for good in [
            "/srv/borg",
            "borg@backup:/repo",
            "backup-1.example.com:repos/a",
            "ssh://borg@127.0.0.2:2222/./repo",
            "ssh://b.o-r_g@[::1]/srv/r",
            "/srv/with space/and'quote",
        ] {
            assert!(RepoLocation::parse_checked(good).is_ok(), "{good}");
        }
    }
}
