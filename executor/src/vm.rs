//! VM module providers for the `vm` policy type, as the original documents them: a provider has
//! a name, the module type `vm`, names the hypervisor that backs up a client (the VM), and gives
//! the script run there whose stdout is the VM's disk image, piped into `borg create … -`.
//! `policy.vmprovider` selects the provider; Proxmox VE ships built in, and an administrator
//! adds others through the API (stored, see [`plan_stored`]) or as JSON files (`NAME.json`) in a
//! providers directory.

use crate::sources::{piped, quoted, CreateSpec};
use model::{Client, PolicyType};
use serde::Deserialize;
use std::path::Path;

/// Why a vm policy cannot be backed up for a client.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error("policy type vm needs a VM module provider: set the policy's vmprovider (known: {0})")]
    NoProvider(String),
    #[error("unknown VM module provider {name:?} (known: {known})")]
    UnknownProvider { name: String, known: String },
    #[error("VM module provider file {path}: {reason}")]
    BadProviderFile { path: String, reason: String },
    #[error("VM module provider {provider} has module type {module_type:?}, not \"vm\"")]
    NotVm {
        provider: String,
        module_type: String,
    },
    #[error(
        "client {client} has no hypervisor_name: set it to the {provider} host that runs this VM"
    )]
    NoHypervisor { client: String, provider: String },
    #[error("reading the stored VM module providers: {0}")]
    Store(String),
}

/// A VM module provider (the original's `module_name`, `module_type`, `get_client`, `get_script`).
pub trait VmProvider: Send + Sync {
    /// The name shown to users (`Proxmox`).
    fn module_name(&self) -> String;
    /// The policy type this module serves: always [`PolicyType::Vm`] for VM providers.
    fn module_type(&self) -> String {
        PolicyType::Vm.as_str().to_string()
    }
    /// The hypervisor host that runs the backup of this client (a VM).
    fn get_client(&self, client: &Client) -> Result<String, VmError>;
    /// A bash script run on the hypervisor with the VM's name as `$1`; its stdout is the disk
    /// image, stored as one file of the archive.
    fn get_script(&self) -> String;
    /// The image's file name inside the archive.
    fn image_name(&self, client: &Client) -> String {
        format!("{}.img", client.hostname)
    }
}

/// What a vm backup runs: where, and what borg reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmPlan {
    /// The hypervisor's hostname; `borg create` runs there (and reaches the repository from it).
    pub hypervisor: String,
    pub spec: CreateSpec,
}

/// Built-in provider: Proxmox VE. The VM is found by name (`qm list`) on its node and dumped with
/// `vzdump --stdout --mode snapshot` (all disks and the configuration, restorable with
/// `qmrestore - VMID`).
pub struct Proxmox;

const PROXMOX_SCRIPT: &str = r#"#!/bin/bash
# Writes a vzdump of the Proxmox VE virtual machine named $1 to stdout.
set -euo pipefail
name=$1
id=$(qm list | awk -v n="$name" 'NR > 1 && $2 == n { print $1; exit }')
if [ -z "$id" ]; then
  echo "no Proxmox VM named $name on $(hostname)" >&2
  exit 2
fi
echo "backing up VM $id ($name) with vzdump" >&2
exec vzdump "$id" --stdout --mode snapshot
"#;

impl VmProvider for Proxmox {
    fn module_name(&self) -> String {
        "Proxmox".into()
    }

    fn get_client(&self, client: &Client) -> Result<String, VmError> {
        let h = client.hypervisor_name.trim();
        if h.is_empty() {
            return Err(VmError::NoHypervisor {
                client: client.hostname.clone(),
                provider: self.module_name(),
            });
        }
        Ok(h.to_string())
    }

    fn get_script(&self) -> String {
        PROXMOX_SCRIPT.into()
    }

    fn image_name(&self, client: &Client) -> String {
        format!("vzdump-qemu-{}.vma", client.hostname)
    }
}

/// A provider described by a JSON file: `{"name": "Xen", "type": "vm", "client": "xen1" or
/// "{hypervisor_name}", "script": "#!/bin/bash\n…", "image": "{hostname}.img"}`. `{hostname}`
/// and `{hypervisor_name}` in `client` and `image` are replaced by the client's values.
#[derive(Debug, Clone, Deserialize)]
pub struct FileProvider {
    name: String,
    #[serde(rename = "type")]
    module_type: String,
    #[serde(default = "default_client")]
    client: String,
    script: String,
    #[serde(default)]
    image: Option<String>,
}

fn default_client() -> String {
    "{hypervisor_name}".into()
}

fn fill(template: &str, client: &Client) -> String {
    template
        .replace("{hostname}", &client.hostname)
        .replace("{hypervisor_name}", client.hypervisor_name.trim())
}

impl VmProvider for FileProvider {
    fn module_name(&self) -> String {
        self.name.clone()
    }

    fn module_type(&self) -> String {
        self.module_type.clone()
    }

    fn get_client(&self, client: &Client) -> Result<String, VmError> {
        let h = fill(&self.client, client);
        if h.trim().is_empty() {
            return Err(VmError::NoHypervisor {
                client: client.hostname.clone(),
                provider: self.name.clone(),
            });
        }
        Ok(h.trim().to_string())
    }

    fn get_script(&self) -> String {
        self.script.clone()
    }

    fn image_name(&self, client: &Client) -> String {
        self.image
            .as_deref()
            .map_or_else(|| format!("{}.img", client.hostname), |t| fill(t, client))
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Names of the providers available: the built-in ones and `NAME.json` files in `dir`.
pub fn provider_names(dir: Option<&Path>) -> Vec<String> {
    let mut names = vec!["proxmox".to_string()];
    if let Some(entries) = dir.and_then(|d| std::fs::read_dir(d).ok()) {
        for e in entries.flatten() {
            let file = e.file_name().to_string_lossy().to_string();
            if let Some(n) = file.strip_suffix(".json").filter(|n| valid_name(n)) {
                names.push(n.to_lowercase());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// The provider named `name` (case-insensitive): built in, or `dir/NAME.json`.
pub fn provider(name: &str, dir: Option<&Path>) -> Result<Box<dyn VmProvider>, VmError> {
    let wanted = name.trim().to_lowercase();
    if wanted.is_empty() {
        return Err(VmError::NoProvider(provider_names(dir).join(", ")));
    }
    if wanted == "proxmox" {
        return Ok(Box::new(Proxmox));
    }
    let unknown = || VmError::UnknownProvider {
        name: name.to_string(),
        known: provider_names(dir).join(", "),
    };
    let (Some(dir), true) = (dir, valid_name(&wanted)) else {
        return Err(unknown());
    };
    let path = dir.join(format!("{wanted}.json"));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(unknown()),
        Err(e) => {
            return Err(VmError::BadProviderFile {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        }
    };
    let p: FileProvider = serde_json::from_str(&text).map_err(|e| VmError::BadProviderFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(Box::new(p))
}

impl From<store::VmProviderRecord> for FileProvider {
    fn from(r: store::VmProviderRecord) -> Self {
        FileProvider {
            name: r.module_name,
            module_type: r.module_type,
            client: r.client,
            script: r.script,
            image: Some(r.image).filter(|i| !i.trim().is_empty()),
        }
    }
}

/// The provider named `name`: built in, stored by an administrator (`createVmProvider`), or a
/// file in `dir`.
pub fn stored_provider(
    store: &store::Store,
    name: &str,
    dir: Option<&Path>,
) -> Result<Box<dyn VmProvider>, VmError> {
    let stored = |e: store::StoreError| VmError::Store(e.to_string());
    let wanted = name.trim().to_lowercase();
    if !wanted.is_empty() && !store::BUILT_IN_VM_PROVIDERS.contains(&wanted.as_str()) {
        if let Some(r) = store.vm_provider(&wanted).map_err(stored)? {
            return Ok(Box::new(FileProvider::from(r)));
        }
    }
    provider(name, dir).map_err(|e| {
        let mut known = provider_names(dir);
        known.extend(
            store
                .vm_providers()
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.name),
        );
        known.sort();
        known.dedup();
        match e {
            VmError::NoProvider(_) => VmError::NoProvider(known.join(", ")),
            VmError::UnknownProvider { name, .. } => VmError::UnknownProvider {
                name,
                known: known.join(", "),
            },
            other => other,
        }
    })
}

/// [`plan`] with the providers an administrator stored as well.
pub fn plan_stored(
    store: &store::Store,
    vmprovider: &str,
    client: &Client,
) -> Result<VmPlan, VmError> {
    plan_with(stored_provider(store, vmprovider, None)?, client)
}

/// Where and how a vm policy backs up `client` with the provider `vmprovider`.
pub fn plan(vmprovider: &str, client: &Client, dir: Option<&Path>) -> Result<VmPlan, VmError> {
    plan_with(provider(vmprovider, dir)?, client)
}

fn plan_with(p: Box<dyn VmProvider>, client: &Client) -> Result<VmPlan, VmError> {
    let module_type = p.module_type();
    if module_type != PolicyType::Vm.as_str() {
        return Err(VmError::NotVm {
            provider: p.module_name(),
            module_type,
        });
    }
    let hypervisor = p.get_client(client)?;
    let script = p.get_script();
    // The script runs as `bash -c SCRIPT cyborgbackup-vm VMNAME`: the name is an argument.
    let producer = quoted(&["bash", "-c", &script, "cyborgbackup-vm", &client.hostname]);
    Ok(VmPlan {
        hypervisor,
        spec: piped(producer, &p.image_name(client), vec![]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(hostname: &str, hypervisor: &str) -> Client {
        let mut c: Client = serde_json::from_value(serde_json::json!({
            "id": 1, "hostname": hostname, "port": 22, "ip": "", "version": "", "ready": true,
            "hypervisor_ready": true, "hypervisor_name": hypervisor, "enabled": true,
            "audit": {"created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
                      "created_by": null, "modified_by": null, "uuid": ""}
        }))
        .expect("client json");
        c.hostname = hostname.into();
        c
    }

    #[test]
    fn proxmox_runs_on_the_hypervisor_with_the_name_as_argument() {
        let plan = plan("Proxmox", &client("web; reboot", "pve1"), None).unwrap();
        assert_eq!(plan.hypervisor, "pve1");
        let pipe = plan.spec.pipe.unwrap();
        assert!(
            pipe.producer.ends_with("cyborgbackup-vm 'web; reboot'"),
            "{}",
            pipe.producer
        );
        assert_eq!(pipe.stdin_name, "vzdump-qemu-web; reboot.vma");
        let e = super::plan("proxmox", &client("web", ""), None).unwrap_err();
        assert!(e.to_string().contains("hypervisor_name"), "{e}");
        assert!(matches!(
            super::plan("", &client("web", "h"), None),
            Err(VmError::NoProvider(_))
        ));
        assert!(matches!(
            super::plan("../x", &client("web", "h"), None),
            Err(VmError::UnknownProvider { .. })
        ));
    }

    #[test]
    fn file_providers_are_loaded_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("kvm.json"),
            r#"{"name":"KVM","type":"vm","client":"{hypervisor_name}","script":"cat /dev/null","image":"{hostname}.qcow2"}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("db.json"),
            r#"{"name":"DB","type":"mysql","script":"true"}"#,
        )
        .unwrap();
        assert_eq!(provider_names(Some(dir.path())), ["db", "kvm", "proxmox"]);
        let plan = plan("kvm", &client("vm1", "host1"), Some(dir.path())).unwrap();
        assert_eq!(
            (
                plan.hypervisor.as_str(),
                plan.spec.pipe.unwrap().stdin_name.as_str()
            ),
            ("host1", "vm1.qcow2")
        );
        assert!(matches!(
            super::plan("db", &client("vm1", "h"), Some(dir.path())),
            Err(VmError::NotVm { .. })
        ));
    }
}
