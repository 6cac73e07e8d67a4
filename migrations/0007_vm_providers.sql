-- VM module providers added by administrators (Proxmox is built into the binary): the script
-- runs on the hypervisor `client` names and prints the VM's disk image on stdout.
CREATE TABLE vm_providers (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    module_name TEXT NOT NULL,
    module_type TEXT NOT NULL DEFAULT 'vm',
    client      TEXT NOT NULL DEFAULT '{hypervisor_name}',
    script      TEXT NOT NULL,
    image       TEXT NOT NULL DEFAULT '',
    created     TEXT NOT NULL,
    modified    TEXT NOT NULL,
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    modified_by INTEGER REFERENCES users(id) ON DELETE SET NULL
);
