//! Several server nodes on one new PostgreSQL database, each on its own loopback address
//! (127.0.0.1, .2, .3, …) with a copy of the first node's master key.

use super::Server;
use anyhow::Result;

/// Starts one node per name, sharing a new PostgreSQL database; `env` applies to every node.
pub fn start_cluster(names: &[&str], env: &[(&str, &str)]) -> Result<Vec<Server>> {
    let url = store::testing::new_test_database();
    let mut nodes: Vec<Server> = Vec::new();
    let mut key = None;
    for (i, name) in names.iter().enumerate() {
        let dir = tempfile::tempdir()?;
        if let Some(k) = &key {
            std::fs::write(dir.path().join("master.key"), k)?;
        }
        let mut e: Vec<(&str, &str)> =
            vec![("CYBORG_DATABASE_URL", &url), ("CYBORG_NODE_NAME", name)];
        e.extend_from_slice(env);
        let s = Server::start_at(dir, &format!("127.0.0.{}:0", i + 1), &e)?;
        if key.is_none() {
            key = Some(std::fs::read(s.data_dir.path().join("master.key"))?);
        }
        nodes.push(s);
    }
    Ok(nodes)
}
